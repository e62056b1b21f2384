"""The report of a dataset version: what each step did to the documents, in words and one plot.

Written next to the ledger as report.md and lengths.png, shown in the orchestrator's UI and
logged to MLflow with the dataset, so an analyst sees in one page why the corpus is the size it is.
"""

from __future__ import annotations

import io
from typing import Any

import polars as pl

from forge_core.clean.pii import TYPES as PII_TYPES
from forge_core.clean.pipeline import CleanConfig, clean_steps
from forge_core.dedup.clusters import markdown as cluster_markdown


def step_table(stage_counts: dict[str, int]) -> list[dict[str, Any]]:
    """Per cleaning step, in pipeline order: documents and characters in and out."""
    steps: dict[str, dict[str, int]] = {}
    for key, n in stage_counts.items():
        step, _, measure = key.rpartition(".")
        if measure in ("docs_in", "docs_out", "chars_in", "chars_out") and step:
            steps.setdefault(step, {})[measure] = n
    order = [name for name, _ in clean_steps(CleanConfig())]  # stats.json sorts keys; the pipeline does not
    ranked = sorted(steps, key=lambda s: order.index(s) if s in order else len(order))
    return [{"step": name, **steps[name]} for name in ranked]


def pii_table(stage_counts: dict[str, int]) -> list[dict[str, Any]]:
    rows = []
    for kind in PII_TYPES:
        found = stage_counts.get(f"pii.found.{kind}", 0)
        docs = stage_counts.get(f"pii.docs_with.{kind}", 0)
        rows.append({"type": kind, "found": found, "documents": docs})
    return rows


def language_table(ledger: pl.DataFrame) -> list[dict[str, Any]]:
    """Languages of the documents that reached language id, and how many of each were kept."""
    seen = ledger.filter(pl.col("language").is_not_null())
    table = (
        seen.group_by("language")
        .agg(documents=pl.len(), kept=(pl.col("status") == "kept").sum())
        .sort("documents", "language", descending=[True, False])
    )
    return table.to_dicts()


def length_histogram(words: pl.Series) -> bytes:
    """A PNG of kept documents' lengths in words, on log-spaced bins (lengths span orders of magnitude)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    values = words.drop_nulls().to_numpy()
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    if len(values):
        top = max(10, int(values.max()))
        bins = np.unique(np.logspace(0, np.log10(top + 1), 30).astype(int))
        ax.hist(values, bins=bins, color="#3b6ea8")
        ax.set_xscale("log")
    ax.set_xlabel("words per kept document")
    ax.set_ylabel("documents")
    ax.set_title(f"{len(values)} kept documents")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def report_markdown(stats: dict[str, Any], ledger: pl.DataFrame, kept_words: pl.Series) -> str:
    c = stats["counts"]
    clean = stats["stages"].get("clean", {}).get("counts", {})
    lines = [
        f"# Dataset {stats['dataset_id']}",
        "",
        f"{c['ingested']} documents: **{c['kept']} kept**, {c['dropped']} dropped, {c['quarantined']} quarantined. "
        f"Kept words: {int(kept_words.sum() or 0):,} (median {int(kept_words.median() or 0):,} per document).",
        "",
        "## Documents and characters per step",
        "",
        "| stage | step | documents in | documents out | characters in | characters out |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    ingest, dedup = stats["stages"].get("ingest", {}), stats["stages"].get("dedup", {})
    if ingest:
        lines.append(f"| ingest | read files | {ingest['documents_in']} files | {ingest['documents_kept']} | | |")
    for row in step_table(clean):
        lines.append(
            f"| clean | {row['step']} | {row.get('docs_in', 0):,} | {row.get('docs_out', 0):,} | "
            f"{row.get('chars_in', 0):,} | {row.get('chars_out', 0):,} |"
        )
    if dedup:
        lines.append(
            f"| dedup | exact and near duplicates | {dedup['documents_in']:,} | {dedup['documents_kept']:,} | | |"
        )
    lines += ["", "## Removed, by reason", "", "| status | stage | reason | documents |", "| --- | --- | --- | ---: |"]
    for where, reasons in c["by_reason"].items():
        status, _, stage = where.partition(".")
        lines += [f"| {status} | {stage} | {reason} | {n} |" for reason, n in reasons.items()]
    if dedup.get("clusters"):
        lines += ["", "## Duplicate clusters", "", cluster_markdown(dedup["clusters"])]
    lines += ["", "## Languages", "", "| language | documents | kept |", "| --- | ---: | ---: |"]
    lines += [f"| {r['language']} | {r['documents']} | {r['kept']} |" for r in language_table(ledger)]
    lines += ["", "## PII found, by type", "", "| type | found | documents |", "| --- | ---: | ---: |"]
    lines += [f"| {r['type']} | {r['found']} | {r['documents']} |" for r in pii_table(clean)]
    lines += ["", "## Length of kept documents", "", "![words per kept document](lengths.png)", ""]
    return "\n".join(lines)


def summary_markdown(summary: dict[str, Any]) -> str:
    """A dataset version's manifest on one page: counts by status, stage and reason, and its ledger."""
    c = summary["counts"]
    lines = [
        f"# Dataset {summary['dataset_id']}",
        "",
        f"{c['ingested']} documents from {summary['files']} files: **{c['kept']} kept**, "
        f"{c['dropped']} dropped, {c['quarantined']} quarantined.",
        "",
        "| status | stage | reason | documents |",
        "| --- | --- | --- | --- |",
    ]
    for where, reasons in c["by_reason"].items():
        status, _, stage = where.partition(".")
        lines += [f"| {status} | {stage} | {reason} | {n} |" for reason, n in reasons.items()]
    lines += ["", f"Ledger: `{summary['ledger']}`"]
    return "\n".join(lines)

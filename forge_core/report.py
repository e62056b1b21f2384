"""The report of a dataset version: what each step did to the documents, in words and one plot.

Written next to the ledger as report.md and lengths.png, shown in the orchestrator's UI and
logged to MLflow with the dataset, so an analyst sees in one page why the corpus is the size it is.
The page stands alone wherever it is shown: the histogram is embedded in it (a data: URI, since a
link relative to report.md is broken in both UIs), and its tables hold no HTML and no long paths.
"""

from __future__ import annotations

import base64
import io
import posixpath
from typing import Any

import polars as pl

from forge_core.clean.pii import TYPES as PII_TYPES
from forge_core.clean.pipeline import CleanConfig, clean_steps
from forge_core.dedup.clusters import markdown as cluster_markdown
from forge_core.timing import phases_markdown


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


def embedded_png(png: bytes, alt: str) -> str:
    """A Markdown image that carries its PNG: no file to find next to the page."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def duplicate_clusters_markdown(clusters: dict[str, Any]) -> str:
    """The dedup cluster report: sizes as a table, the largest clusters as a list of their sources.

    Not a table for the largest: a cell of several long URIs is clipped by the UIs, and a line
    break inside a cell needs raw HTML, which they print as text. The folder the sources share is
    said once, so each line is short.
    """
    lines = [cluster_markdown(clusters)]  # the sizes table (no paths in it)
    largest = clusters.get("largest") or []
    uris = [u for c in largest for u in (c["kept"], *c["dropped_sample"]) if u]
    folder = posixpath.dirname(posixpath.commonprefix(uris)) + "/" if len(uris) > 1 else ""
    if len(folder) <= len("file:///"):
        folder = ""
    if largest:
        lines += ["", f"Largest clusters (sources under `{folder}`):" if folder else "Largest clusters:", ""]
    for c in largest:
        kept = (c["kept"] or "?").removeprefix(folder)
        lines.append(f"- {c['kind']} duplicates, {c['size']:,} documents; kept `{kept}`")
        lines += [f"  - dropped `{uri.removeprefix(folder)}`" for uri in c["dropped_sample"]]
        if (more := c["size"] - 1 - len(c["dropped_sample"])) > 0:
            lines.append(f"  - and {more:,} more dropped")
    return "\n".join(lines)


def report_markdown(
    stats: dict[str, Any], ledger: pl.DataFrame, kept_words: pl.Series, histogram: bytes | None = None
) -> str:
    """The dataset version's report. histogram: length_histogram's PNG, drawn here when not given."""
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
        lines += ["", "## Duplicate clusters", "", duplicate_clusters_markdown(dedup["clusters"])]
    if stats.get("phases"):
        lines += ["", "## Where the time went", "", phases_markdown(stats["phases"])]
    lines += ["", "## Languages", "", "| language | documents | kept |", "| --- | ---: | ---: |"]
    lines += [f"| {r['language']} | {r['documents']} | {r['kept']} |" for r in language_table(ledger)]
    lines += ["", "## PII found, by type", "", "| type | found | documents |", "| --- | ---: | ---: |"]
    lines += [f"| {r['type']} | {r['found']} | {r['documents']} |" for r in pii_table(clean)]
    png = histogram if histogram is not None else length_histogram(kept_words)
    lines += ["", "## Length of kept documents", "", embedded_png(png, "words per kept document"), ""]
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

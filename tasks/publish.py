from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import yaml
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from forge_core import ledger as ledgers
from forge_core import report
from forge_core.checkpoint import ShardReport
from forge_core.config import ForgeConfig
from forge_core.identity import code_version
from forge_core.io.shards import read_shards
from forge_core.io.workspace import Workspace


@task(name="publish-dataset", cache_policy=NO_CACHE)
def publish_dataset(
    ws: Workspace,
    cfg: ForgeConfig,
    dataset_id: str,
    sources: list[str],
    n_files: int,
    parts: dict[str, list[ShardReport]],
    stages: dict[str, dict],
    validation: dict[str, Any],
) -> dict[str, Any]:
    """Balance the ledger, then write it with stats, config and the manifest that marks the
    dataset version complete (written last: a version without a manifest is unfinished)."""
    out = ws.dataset_dir(dataset_id)
    ingest = stages["ingest"]
    expected = ingest["documents_kept"] + sum(n for k, n in ingest["counts"].items() if k.startswith("quarantined."))
    ledger_parts = [r.ledger_path for r in parts["ingest"] + parts["clean"] + parts["plan"]]
    kept = [ws.dataset_shard(dataset_id, r.index) for r in parts["dedup"]]
    cleaned = [r.docs_path for r in parts["clean"]]
    ledger = ledgers.assemble(ws, ledger_parts, kept, "dedup", dataset_id, expected, cleaned_paths=cleaned)
    ledger_path = f"{out}/ledger.parquet"
    ledgers.write_ledger(ws, ledger_path, ledger)
    counts = ledgers.counts(ledger)

    clean_counts = stages.get("clean", {}).get("counts", {})
    stats = {
        "dataset_id": dataset_id,
        "counts": counts,
        "steps": report.step_table(clean_counts),
        "languages": report.language_table(ledger),
        "pii": report.pii_table(clean_counts),
        "stages": stages,
        "validation": validation,
    }
    ws.write_json(f"{out}/stats.json", stats)
    kept_words = read_shards(ws, kept, columns=["n_words"])["n_words"] if kept else pl.Series([], dtype=pl.Int64)
    markdown = report.report_markdown(stats, ledger, kept_words)
    ws.write_text(f"{out}/report.md", markdown)
    ws.write_bytes(f"{out}/lengths.png", report.length_histogram(kept_words))
    create_markdown_artifact(key="dataset-report", markdown=markdown, description=dataset_id)
    ws.write_text(f"{out}/config.yaml", yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    summary = {
        "dataset_id": dataset_id,
        "dataset": ws.display(out),
        "ledger": ws.display(ledger_path),
        "counts": counts,
        "files": n_files,
        "sources": sources,
        "code_version": code_version(),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "validation": validation,
    }
    ws.write_json(f"{out}/manifest.json", summary)
    create_markdown_artifact(key="dataset-summary", markdown=summary_markdown(summary), description=dataset_id)
    return summary


def summary_markdown(summary: dict[str, Any]) -> str:
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

"""Publishing a dataset version: balance the ledger, write its records, and mark it complete.

The manifest is written last: a dataset folder without one is an unfinished version, which
`forge dataset list` shows as such and a rerun completes.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import polars as pl
import yaml

from forge_core import ledger as ledgers
from forge_core import report
from forge_core.compliance.cards import write_dataset_card
from forge_core.config import ForgeConfig
from forge_core.executor.work import ShardReport
from forge_core.identity import code_version
from forge_core.ingest import dataset_kind
from forge_core.integrity import digests as integrity
from forge_core.integrity import journal
from forge_core.io.shards import read_shards
from forge_core.io.workspace import Workspace
from forge_core.lineage.document_index import index_dataset


@dataclass
class Published:
    """A complete dataset version: its manifest, and its report as Markdown for a UI to show."""

    manifest: dict[str, Any]
    report: str


def publish_dataset(
    ws: Workspace,
    cfg: ForgeConfig,
    dataset_id: str,
    sources: list[str],
    n_files: int,
    parts: dict[str, list[ShardReport]],
    stages: dict[str, dict],
    validation: dict[str, Any],
    phases: dict[str, float] | None = None,
) -> Published:
    """Balance the ledger, then write it with stats, the report, the config and the manifest.

    phases: wall seconds per phase of the run so far (forge_core/timing.py); this function's own
    time up to the stats is added as "publish".

    parts: the shard reports of ingest, clean, the dedup plan and dedup (whose outputs are the
    version's shards); stages: each stage's summary, as stats.json keeps it.
    """
    begun = time.perf_counter()
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
    kind = dataset_kind(cfg.ingest.kind, ingest["counts"])
    stats = {
        "dataset_id": dataset_id,
        "kind": kind,
        "counts": counts,
        "steps": report.step_table(clean_counts),
        "languages": report.language_table(ledger),
        "pii": report.pii_table(clean_counts),
        "stages": stages,
        "validation": validation,
        "phases": {**(phases or {}), "publish": round(time.perf_counter() - begun, 2)},
    }
    ws.write_json(f"{out}/stats.json", stats)
    kept_words = read_shards(ws, kept, columns=["n_words"])["n_words"] if kept else pl.Series([], dtype=pl.Int64)
    markdown = report.report_markdown(stats, ledger, kept_words)
    ws.write_text(f"{out}/report.md", markdown)
    ws.write_bytes(f"{out}/lengths.png", report.length_histogram(kept_words))
    ws.write_text(f"{out}/config.yaml", yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    write_dataset_card(ws, dataset_id)  # README.md: Hugging Face metadata, the facts `forge audit` cites
    manifest = {
        "dataset_id": dataset_id,
        "dataset": ws.display(out),
        "kind": kind,
        "ledger": ws.display(ledger_path),
        "counts": counts,
        "files": n_files,
        "sources": sources,
        "code_version": code_version(),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "validation": validation,
    }
    index_dataset(ws, dataset_id, ledger)  # `forge lineage doc` finds its documents without the ledger
    manifest["digests"] = integrity.dataset_digests(ws, dataset_id)  # what `forge verify` checks
    ws.write_json(f"{out}/manifest.json", manifest)
    journal.append(ws, "publish", dataset_id=dataset_id, manifest_sha256=integrity.manifest_digest(ws, dataset_id))
    return Published(manifest, markdown)

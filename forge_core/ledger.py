"""The ledger: one row per ingested document, saying whether it was kept, dropped or quarantined.

Its invariant, ingested = kept + dropped + quarantined with every doc_id exactly once, is checked
here before a dataset version is published; a dataset whose books do not balance is never
published.
"""

from __future__ import annotations

import polars as pl

from forge_core.io.shards import read_shards, write_shard
from forge_core.io.workspace import Workspace
from forge_core.schema import ANNOTATION_COLUMNS, LEDGER, LEDGER_PART, STATUSES

LEDGER_PART_COLUMNS = [f.name for f in LEDGER_PART]


class LedgerInvariantError(RuntimeError):
    """The books do not balance: a document was lost or counted twice."""


def kept_rows(kept: pl.DataFrame, stage: str) -> pl.DataFrame:
    return kept.select(
        "doc_id", "source_uri", "raw_sha256", "bytes",
        status=pl.lit("kept"), stage=pl.lit(stage),
        reason=pl.lit(None, dtype=pl.String), detail=pl.lit(None, dtype=pl.String),
        similarity=pl.lit(None, dtype=pl.Float64), parent_doc_id="parent_doc_id", **{c: c for c in ANNOTATION_COLUMNS},
    )  # fmt: skip


def annotate(ledger: pl.DataFrame, annotations: pl.DataFrame) -> pl.DataFrame:
    """Fill language and PII counts from the cleaned shards into rows dropped after cleaning (dedup)."""
    if annotations.is_empty():
        return ledger
    filled = ledger.join(annotations, on="doc_id", how="left", suffix="_cleaned")
    carried = [c for c in annotations.columns if c != "doc_id"]
    return filled.with_columns(pl.coalesce(c, f"{c}_cleaned").alias(c) for c in carried).select(ledger.columns)


def assemble(
    ws: Workspace,
    part_paths: list[str],
    kept_paths: list[str],
    kept_stage: str,
    dataset_id: str,
    expected: int,
    cleaned_paths: list[str] | None = None,
) -> pl.DataFrame:
    """The whole ledger from the stages' parts and the kept shards, checked against `expected`.

    expected: the number of documents ingestion produced plus the number it quarantined.
    cleaned_paths: the cleaned shards, whose annotations fill rows dropped after cleaning.
    """
    parts = read_shards(ws, part_paths, columns=LEDGER_PART_COLUMNS)
    columns = ["doc_id", "source_uri", "raw_sha256", "bytes", "parent_doc_id", *ANNOTATION_COLUMNS]
    kept = kept_rows(read_shards(ws, kept_paths, columns=columns), kept_stage)
    ledger = pl.concat([parts, kept], how="vertical_relaxed").select(LEDGER_PART_COLUMNS)
    if cleaned_paths:
        carried = ["doc_id", "parent_doc_id", *ANNOTATION_COLUMNS]
        ledger = annotate(ledger, read_shards(ws, cleaned_paths, columns=carried))
    ledger = ledger.with_columns(dataset_id=pl.lit(dataset_id)).select(LEDGER.names).sort("source_uri", "doc_id")
    check_invariant(ledger, expected)
    return ledger


def check_invariant(ledger: pl.DataFrame, expected: int) -> None:
    problems = []
    if ledger.height != expected:
        problems.append(f"{ledger.height} ledger rows for {expected} ingested documents")
    repeated = ledger.filter(pl.col("doc_id").is_duplicated())["doc_id"].unique().to_list()
    if repeated:
        problems.append(f"doc_ids recorded more than once: {repeated[:5]}")
    bad_status = set(ledger["status"].unique()) - set(STATUSES)
    if bad_status:
        problems.append(f"unknown statuses {sorted(bad_status)}")
    unexplained = ledger.filter((pl.col("status") != "kept") & pl.col("reason").is_null()).height
    if unexplained:
        problems.append(f"{unexplained} dropped or quarantined rows without a reason")
    if problems:
        raise LedgerInvariantError("ledger invariant broken: " + "; ".join(problems))


def write_ledger(ws: Workspace, path: str, ledger: pl.DataFrame) -> None:
    write_shard(ws, path, ledger, LEDGER)


def counts(ledger: pl.DataFrame) -> dict:
    """Totals by status, and by stage and reason for what was removed: the run's summary."""
    by_status = dict(ledger.group_by("status").len().iter_rows())
    removed = (
        ledger.filter(pl.col("status") != "kept").group_by("status", "stage", "reason").len()
        .sort("status", "stage", "len", descending=[False, False, True])
    )  # fmt: skip
    by_reason: dict[str, dict[str, int]] = {}
    for status, stage, reason, n in removed.iter_rows():
        by_reason.setdefault(f"{status}.{stage}", {})[reason] = n
    return {
        "ingested": ledger.height,
        **{status: by_status.get(status, 0) for status in STATUSES},
        "by_reason": by_reason,
    }

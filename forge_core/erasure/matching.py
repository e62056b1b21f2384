"""Which ledger rows an erasure request covers: the documents named, wherever the same content
appears (any dataset version, any path), and, when asked, the members of their duplicate clusters."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from forge_core.io.workspace import Workspace
from forge_core.lineage.queries import DUPLICATE_REASONS, complete_datasets, document_filter, ledgers_of
from forge_core.lineage.records import file_digest

COLUMNS = ["doc_id", "raw_sha256", "source_uri", "status", "reason", "detail", "parent_doc_id"]


def live_datasets(ws: Workspace) -> list[str]:
    """Finished dataset versions not already retired by an erasure."""
    return complete_datasets(ws)


def find(ws: Workspace, locators: list[str], near_duplicates: bool) -> pl.DataFrame:
    """One row per (dataset_id, doc_id) the request covers, with its status there."""
    datasets = live_datasets(ws)
    ledgers = {d: ledgers_of(ws, d).select(COLUMNS) for d in datasets}
    shas: set[str] = set()
    for locator in locators:
        match, kind = document_filter(locator)
        for ledger in ledgers.values():
            shas |= set(ledger.filter(match)["raw_sha256"].to_list())
        if kind == "path":  # moved or renamed since: its content still names it
            shas.add(file_digest(str(Path(locator).resolve())))
    found = []
    for dataset_id, ledger in ledgers.items():
        rows = ledger.filter(pl.col("raw_sha256").is_in(list(shas)))
        if near_duplicates:
            rows = with_clusters(ledger, rows)
        rows = with_attachments(ledger, rows)
        if rows.height:
            found.append(rows.with_columns(pl.lit(dataset_id).alias("dataset_id")))
    empty = pl.DataFrame(schema={**dict.fromkeys(COLUMNS, pl.String), "dataset_id": pl.String})
    return pl.concat(found) if found else empty


def with_clusters(ledger: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """The rows and every member of their duplicate clusters in this ledger (duplicates name their
    survivor in `detail`), to closure."""
    ids = set(rows["doc_id"].to_list())
    duplicates = ledger.filter(pl.col("reason").is_in(DUPLICATE_REASONS))
    pairs = list(zip(duplicates["doc_id"].to_list(), duplicates["detail"].to_list(), strict=True))
    grew = True
    while grew:
        before = len(ids)
        for doc, survivor in pairs:
            if doc in ids or survivor in ids:
                ids |= {doc, survivor}
        grew = len(ids) > before
    return ledger.filter(pl.col("doc_id").is_in(list(ids)))


def with_attachments(ledger: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """An erased e-mail takes its attachments with it (they name it in parent_doc_id), to closure."""
    ids = set(rows["doc_id"].to_list())
    while True:
        children = set(ledger.filter(pl.col("parent_doc_id").is_in(list(ids)))["doc_id"].to_list())
        if children <= ids:
            return ledger.filter(pl.col("doc_id").is_in(list(ids)))
        ids |= children

"""A dataset version without the erased documents, and the retirement of the one that held them.

The successor reuses every shard that did not hold an erased document (a hard link where the
workspace is a local folder, else a copy) and rewrites the others without those rows; its ledger
is the old one without their rows. Its counts, languages and report are computed again; the per
step tables of stats.json (documents and PII found per cleaning step) are the old version's less
nothing: they are aggregates, and the manifest says which request removed how many documents.
Validation is not run again (removing documents cannot break a gate that held), and the token
files are built again by the next tokenization (the retrain does it). The tokenizer is carried
over: it was trained with the erased text among all the others, which the README says.

The old version is retired: its shards, ledger, token files, stats, report, card and validation
results are deleted; its manifest stays, with superseded.json naming the successor and the
request, so lineage can still say what happened.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import posixpath
from typing import Any

import polars as pl

from forge_core import ledger as ledgers
from forge_core import report
from forge_core.compliance.cards import write_dataset_card
from forge_core.integrity import digests as integrity
from forge_core.integrity import journal
from forge_core.io.shards import read_shard, write_shard
from forge_core.io.workspace import Workspace
from forge_core.schema import DEDUPLICATED

RETIRED = ("shards", "tokens", "validation", "ledger.parquet", "stats.json", "report.md", "lengths.png")
RETIRED += ("README.md", "tokenizer.json", "work")


ERASED = "(erased)"  # in place of an erased document's doc_id where another row named it


def successor_id(dataset_id: str, request_id: str) -> str:
    return "ds-" + hashlib.sha256(f"{dataset_id}\nerased by {request_id}".encode()).hexdigest()[:16]


def rebuild(ws: Workspace, dataset_id: str, erased: set[str], request_id: str) -> dict[str, Any]:
    """Write the successor of `dataset_id` without the `erased` doc_ids; returns its manifest."""
    old, new_id = ws.dataset_dir(dataset_id), successor_id(dataset_id, request_id)
    new = ws.dataset_dir(new_id)
    manifest = ws.read_json(f"{old}/manifest.json")
    ledger = ledgers_of(ws, old).filter(~pl.col("doc_id").is_in(list(erased)))
    # A duplicate of an erased document stays (without --with-near-duplicates) but no longer names it.
    names_erased = pl.col("detail").is_in(list(erased))
    ledger = ledger.with_columns(
        pl.lit(new_id).alias("dataset_id"),
        pl.when(names_erased).then(pl.lit(ERASED)).otherwise(pl.col("detail")).alias("detail"),
        pl.when(pl.col("parent_doc_id").is_in(list(erased))).then(pl.lit(ERASED)).otherwise(pl.col("parent_doc_id"))
        .alias("parent_doc_id"),
    )  # fmt: skip
    ledgers.write_ledger(ws, f"{new}/ledger.parquet", ledger)
    reused, rewritten = 0, 0
    for shard in sorted(ws.fs.glob(f"{old}/shards/*.parquet")):
        target = f"{new}/shards/{posixpath.basename(shard)}"
        if set(read_shard(ws, shard, ["doc_id"])["doc_id"].to_list()) & erased:
            frame = read_shard(ws, shard).filter(~pl.col("doc_id").is_in(list(erased)))
            write_shard(ws, target, frame, DEDUPLICATED)
            rewritten += 1
        else:
            reuse(ws, shard, target)
            reused += 1
    for name in ("config.yaml", "tokenizer.json"):
        if ws.exists(f"{old}/{name}"):
            reuse(ws, f"{old}/{name}", f"{new}/{name}")

    stats = ws.read_json(f"{old}/stats.json")
    counts = ledgers.counts(ledger)
    stats |= {"dataset_id": new_id, "counts": counts, "languages": report.language_table(ledger)}
    clusters = stats.get("stages", {}).get("dedup", {}).get("clusters")
    if clusters:  # the largest clusters name sources: none of the erased ones stays there
        uris = set(ledgers_of(ws, old).filter(pl.col("doc_id").is_in(list(erased)))["source_uri"].to_list())
        clusters["largest"] = [c for c in clusters.get("largest", []) if not ({c["kept"], *c["dropped_sample"]} & uris)]
    erasure = {"request_id": request_id, "documents_removed": len(erased), "from": dataset_id}
    stats["erasure"] = erasure
    ws.write_json(f"{new}/stats.json", stats)
    kept = sorted(ws.fs.glob(f"{new}/shards/*.parquet"))
    words = pl.concat([read_shard(ws, k, ["n_words"]) for k in kept])["n_words"] if kept else pl.Series([], pl.Int64)
    ws.write_text(f"{new}/report.md", report.report_markdown(stats, ledger, words))
    manifest |= {
        "dataset_id": new_id,
        "dataset": ws.display(new),
        "ledger": ws.display(f"{new}/ledger.parquet"),
        "counts": counts,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "erasure": erasure | {"shards_reused": reused, "shards_rewritten": rewritten},
    }
    write_dataset_card(ws, new_id)  # README.md, from the successor's own records
    manifest["digests"] = integrity.dataset_digests(ws, new_id)
    ws.write_json(f"{new}/manifest.json", manifest)
    journal.append(ws, "publish", dataset_id=new_id, manifest_sha256=integrity.manifest_digest(ws, new_id))
    return manifest


def retire(ws: Workspace, dataset_id: str, successor: str | None, request_id: str) -> None:
    """Delete what the old version held of the documents; keep its manifest and say why."""
    folder = ws.dataset_dir(dataset_id)
    for name in RETIRED:
        path = f"{folder}/{name}"
        if ws.exists(path):
            ws.fs.rm(path, recursive=True)
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    note = {"request_id": request_id, "successor": successor, "at": at}
    ws.write_json(f"{folder}/superseded.json", note)


def ledgers_of(ws: Workspace, folder: str) -> pl.DataFrame:
    with ws.fs.open(f"{folder}/ledger.parquet", "rb") as f:
        return pl.read_parquet(f)


def reuse(ws: Workspace, source: str, target: str) -> None:
    ws.makedirs(posixpath.dirname(target))
    if ws.is_local:
        try:
            os.link(source, target)
            return
        except OSError:
            pass
    ws.fs.copy(source, target)

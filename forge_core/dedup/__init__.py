"""Deduplication in three passes, so no process needs every document's text at once.

1. sign_shard, per shard: the text hash, MinHash signature and LSH band keys of each document.
2. plan_dedup, once: exact groups by text hash, then near-duplicate candidates from shared band
   keys, verified against the threshold, joined into connected components; one survivor each.
   It reads ids and band keys of every document, and signatures only of candidates.
3. apply_dedup, per shard: drop what the plan dropped.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import polars as pl

from forge_core.checkpoint import ShardReport
from forge_core.config import DedupConfig
from forge_core.dedup.components import components
from forge_core.dedup.exact import exact_duplicates, text_hashes
from forge_core.dedup.minhash import band_keys, signatures, similarity
from forge_core.io.shards import read_shard, read_shards, write_shard
from forge_core.io.workspace import Workspace
from forge_core.schema import DEDUPLICATED, LEDGER_PART
from forge_core.steps import LEDGER_COLUMNS, drops, empty_ledger

STAGE = "dedup"
INDEX_COLUMNS = ["doc_id", "source_uri", "raw_sha256", "bytes", "source_file", "row", "text_hash", "bands"]


def index_path(report: ShardReport) -> str:
    return f"{report.folder}/index.parquet"


def sign_shard(ws: Workspace, source: str, cfg: DedupConfig, report: ShardReport) -> None:
    shard = read_shard(ws, source)
    index = shard.select(INDEX_COLUMNS[:6]).with_columns(text_hashes(shard["text"]))
    if cfg.near:
        sigs = signatures(shard["text"].to_list(), cfg)
        index = index.with_columns(
            bands=pl.Series(band_keys(sigs, cfg).tolist(), dtype=pl.List(pl.UInt64)),
            signature=pl.Series(sigs.tolist(), dtype=pl.List(pl.UInt64)),
        )
    else:
        index = index.with_columns(
            bands=pl.lit([], dtype=pl.List(pl.UInt64)), signature=pl.lit([], dtype=pl.List(pl.UInt64))
        )
    ws.fs.makedirs(report.folder, exist_ok=True)
    with ws.fs.open(index_path(report), "wb") as f:
        index.write_parquet(f, compression="zstd")
    report.n_in = report.n_kept = shard.height


def _candidate_pairs(index: pl.DataFrame) -> list[tuple[str, str]]:
    buckets = (
        index.select("doc_id", "bands")
        .with_columns(band=pl.int_ranges(pl.col("bands").list.len()))
        .explode("bands", "band")
        .group_by("band", "bands")
        .agg(pl.col("doc_id").sort())
        .filter(pl.col("doc_id").list.len() > 1)
    )
    pairs: set[tuple[str, str]] = set()
    for members in buckets["doc_id"]:
        pairs.update(combinations(members, 2))
    return sorted(pairs)


def _near_duplicates(
    index: pl.DataFrame, index_paths: list[str], ws: Workspace, cfg: DedupConfig
) -> tuple[pl.DataFrame, dict]:
    pairs = _candidate_pairs(index)
    if not pairs:
        return empty_ledger(), {"candidate_pairs": 0, "verified_pairs": 0, "clusters": 0}
    wanted = {d for pair in pairs for d in pair}
    sigs = read_shards(ws, index_paths, columns=["doc_id", "signature"]).filter(pl.col("doc_id").is_in(wanted))
    by_id = {d: np.asarray(s, dtype=np.uint64) for d, s in sigs.iter_rows()}
    edges = [(a, b) for a, b in pairs if similarity(by_id[a], by_id[b]) >= cfg.threshold]

    order = index.select("doc_id", "source_file", "row").sort("source_file", "row", nulls_last=False)
    rank = {d: i for i, d in enumerate(order["doc_id"])}
    survivor_of: dict[str, str] = {}
    groups = components(edges)
    for members in groups.values():
        survivor = min(members, key=rank.__getitem__)
        survivor_of.update({m: survivor for m in members if m != survivor})
    dup = index.filter(pl.col("doc_id").is_in(list(survivor_of))).with_columns(
        survivor=pl.col("doc_id").replace_strict(survivor_of, return_dtype=pl.String)
    )
    stats = {"candidate_pairs": len(pairs), "verified_pairs": len(edges), "clusters": len(groups)}
    return drops(dup, "near_duplicate", pl.col("survivor")), stats


def plan_dedup(ws: Workspace, index_paths: list[str], cfg: DedupConfig, report: ShardReport) -> None:
    """Decide, over the whole dataset, which documents are duplicates and of whom."""
    index = read_shards(ws, index_paths, columns=INDEX_COLUMNS)
    dropped = [empty_ledger()]
    if cfg.exact and index.height:
        exact = exact_duplicates(index)
        dropped.append(exact)
        index = index.filter(~pl.col("doc_id").is_in(exact["doc_id"].implode()))
    if cfg.near and index.height:
        near, stats = _near_duplicates(index, index_paths, ws, cfg)
        dropped.append(near)
        report.counts.update(stats)
    ledger = pl.concat(dropped).with_columns(stage=pl.lit(STAGE)).select(LEDGER_COLUMNS)
    write_shard(ws, report.ledger_path, ledger, LEDGER_PART)
    for reason, n in ledger.group_by("reason").len().iter_rows():
        report.counts[f"dropped.{reason}"] = n


def apply_dedup(
    ws: Workspace, source: str, index_file: str, plan_ledger: str, out_path: str, report: ShardReport
) -> None:
    """Write the shard's survivors, with their text hash, into the dataset version."""
    shard = read_shard(ws, source)
    hashes = read_shard(ws, index_file, columns=["doc_id", "text_hash"])
    dropped = read_shard(ws, plan_ledger, columns=["doc_id"])
    kept = shard.join(hashes, on="doc_id", how="left").join(dropped, on="doc_id", how="anti")
    write_shard(ws, out_path, kept, DEDUPLICATED)
    report.n_in = shard.height
    report.n_kept = kept.height
    report.counts["dropped"] = shard.height - kept.height

"""The cross-shard half of dedup as Dask graphs: two shuffles, then components and survivors.

1. exact: (text_hash, ref, rank columns) of every shard, shuffled on text_hash; each partition
   holds whole groups and writes who it drops.
2. near: band keys of every shard's survivors of step 1, shuffled on the key; each partition turns
   its buckets into candidate pairs, which are shuffled again on the pair (so a pair proposed by
   several bands is checked once) and verified; verified edges are written to files.
3. resolve, one task: connected components over the edge files, a survivor per cluster, the
   similarity of each dropped document to its survivor, and the ledger rows and cluster report.

Shuffles are Dask's (peer-to-peer on a distributed cluster, spilling to disk), so no process ever
holds every document's keys; each partition's output goes to the workspace, never to the client.
"""

from __future__ import annotations

import math
import posixpath
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from forge_core.dedup import DedupConfig
from forge_core.dedup.components import components
from forge_core.dedup.exact import exact_drops
from forge_core.dedup.index import INDEX_COLUMNS, ROW_BITS, Signed, index_path, shard_of
from forge_core.dedup.lsh import bucket_pairs, shard_band_keys, verify
from forge_core.dedup.minhash import config_bands
from forge_core.dedup.survivors import COLUMNS as RANK_COLUMNS
from forge_core.dedup.survivors import pick
from forge_core.io.workspace import Workspace
from forge_core.steps import drops as ledger_drops

# Rows per shuffled partition, sized so one partition stays tens of MB whatever the corpus size.
EXACT_ROWS = 50_000  # text hash, source URI, row, length: ~150 bytes a row
KEY_ROWS = 500_000  # band key and ref, or a candidate pair: 16 bytes a row
COUNTS_META = pd.DataFrame({"partition": pd.Series([], dtype="int64"), "rows": pd.Series([], dtype="int64")})


def partitions(client: Any, rows: int, per_partition: int) -> int:
    """At least one partition per worker, so the work after a shuffle spreads over the cluster."""
    workers = len(client.scheduler_info().get("workers", {})) or 1
    return max(workers, math.ceil(rows / per_partition))


def _read(ws: Workspace, path: str, columns: list[str] | None = None) -> pl.DataFrame:
    with ws.fs.open(path, "rb") as f:
        return pl.read_parquet(f, columns=columns)


def _write(ws: Workspace, folder: str, number: int, frame: pl.DataFrame) -> pd.DataFrame:
    ws.makedirs(folder)
    with ws.fs.open(f"{folder}/part-{number:05d}.parquet", "wb") as f:
        frame.write_parquet(f, compression="zstd")
    return pd.DataFrame({"partition": [number], "rows": [frame.height]})


def read_parts(ws: Workspace, folder: str, columns: list[str] | None = None) -> pl.DataFrame | None:
    paths = sorted(ws.fs.glob(f"{folder}/part-*.parquet"))
    frames = [_read(ws, p, columns) for p in paths]
    return pl.concat(frames) if frames else None


def _pandas(frame: pl.DataFrame) -> pd.DataFrame:
    return frame.to_pandas(use_pyarrow_extension_array=True)


def _polars(frame: pd.DataFrame) -> pl.DataFrame:
    return pl.from_pandas(frame.reset_index(drop=True))


def _compute(client: Any, collection: Any) -> pd.DataFrame:
    return client.compute(collection).result()


# 1. exact -----------------------------------------------------------------------------------
def _exact_keys(folder: str, ws: Workspace) -> pd.DataFrame:
    return _pandas(_read(ws, index_path(folder), ["text_hash", *RANK_COLUMNS]))


def _exact_part(part: pd.DataFrame, ws: Workspace, out: str, rule: str, partition_info=None) -> pd.DataFrame:
    number = partition_info["number"] if partition_info else 0
    return _write(ws, out, number, exact_drops(_polars(part), rule))


def exact_pass(client: Any, ws: Workspace, folders: list[str], n_docs: int, rule: str, out: str) -> int:
    """Writes (ref, survivor) of every exact duplicate under `out`; returns how many."""
    import dask.dataframe as dd

    meta = _pandas(_read(ws, index_path(folders[0]), ["text_hash", *RANK_COLUMNS]).head(0))
    keys = dd.from_map(_exact_keys, folders, ws=ws, meta=meta, label="dedup-exact-keys", enforce_metadata=False)
    grouped = keys.shuffle(on="text_hash", npartitions=partitions(client, n_docs, EXACT_ROWS))
    written = grouped.map_partitions(_exact_part, ws=ws, out=out, rule=rule, meta=COUNTS_META)
    n = int(_compute(client, written)["rows"].sum())
    # one sorted file of every dropped ref (8 bytes each), which each shard's band step filters,
    # instead of every shard reading every partition's file
    drops = read_parts(ws, out, ["ref"])
    refs = drops.sort("ref") if drops is not None else pl.DataFrame(schema={"ref": pl.UInt64})
    with ws.fs.open(f"{out}/dropped.parquet", "wb") as f:
        refs.write_parquet(f, compression="zstd", statistics=True, row_group_size=65536)
    return n


# 2. near ------------------------------------------------------------------------------------
def _dropped_in(ws: Workspace, exact_dir: str, shard: int) -> np.ndarray:
    path = f"{exact_dir}/dropped.parquet"
    if not ws.exists(path):  # exact dedup switched off
        return np.zeros(0, dtype=np.uint64)
    lo, hi = shard << ROW_BITS, (shard + 1) << ROW_BITS
    with ws.fs.open(path, "rb") as f:
        drops = pl.read_parquet(f)
    return drops.filter((pl.col("ref") >= lo) & (pl.col("ref") < hi))["ref"].to_numpy()


def _band_keys(shard: int, signed: Signed, exact_dir: str, bands: int, rows: int) -> pd.DataFrame:
    dropped = _dropped_in(signed.ws, exact_dir, shard)
    return _pandas(shard_band_keys(signed, shard, dropped, bands, rows))


def _bucket_part(part: pd.DataFrame, cap: int) -> pd.DataFrame:
    return _pandas(bucket_pairs(_polars(part), cap))


def _verify_part(
    part: pd.DataFrame, signed: Signed, threshold: float, how: str, out: str, partition_info=None
) -> pd.DataFrame:
    number = partition_info["number"] if partition_info else 0
    edges = verify(_polars(part), signed, threshold, how)
    counts = _write(signed.ws, out, number, edges)
    return counts.assign(candidates=[len(part.drop_duplicates())])


def near_pass(client: Any, signed: Signed, n_docs: int, cfg: DedupConfig, exact_dir: str, out: str) -> dict:
    """Writes verified edges (a, b, similarity) under `out`; returns candidate and edge counts."""
    import dask.dataframe as dd

    bands, rows = config_bands(cfg)
    shards = sorted(signed.folders)
    key_meta = pd.DataFrame({"key": pd.Series([], dtype="uint64"), "ref": pd.Series([], dtype="uint64")})
    keys = dd.from_map(
        _band_keys,
        shards,
        signed=signed,
        exact_dir=exact_dir,
        bands=bands,
        rows=rows,
        meta=key_meta,
        label="dedup-band-keys",
        enforce_metadata=False,
    )
    buckets = keys.shuffle(on="key", npartitions=partitions(client, n_docs * bands, KEY_ROWS))
    pair_meta = pd.DataFrame({"a": pd.Series([], dtype="uint64"), "b": pd.Series([], dtype="uint64")})
    pairs = buckets.map_partitions(_bucket_part, cap=cfg.bucket_pairs, meta=pair_meta)
    by_pair = pairs.shuffle(on=["a", "b"], npartitions=partitions(client, n_docs, KEY_ROWS))
    meta = COUNTS_META.assign(candidates=pd.Series([], dtype="int64"))
    written = by_pair.map_partitions(
        _verify_part, signed=signed, threshold=cfg.threshold, how=cfg.verify, out=out, meta=meta
    )
    counts = _compute(client, written)
    return {
        "bands": bands,
        "rows": rows,
        "candidate_pairs": int(counts["candidates"].sum()),
        "verified_pairs": int(counts["rows"].sum()),
    }


# 3. resolve ---------------------------------------------------------------------------------
def attributes(signed: Signed, refs: np.ndarray) -> pl.DataFrame:
    """Index rows (no text) of the given refs, one shard's index at a time."""
    wanted = pl.Series("ref", np.unique(refs), dtype=pl.UInt64)
    frames = [_read(signed.ws, index_path(signed.folders[min(signed.folders)]), INDEX_COLUMNS).head(0)]
    for shard in np.unique(shard_of(wanted.to_numpy())).tolist():
        index = _read(signed.ws, index_path(signed.folders[shard]), INDEX_COLUMNS)
        frames.append(index.filter(pl.col("ref").is_in(wanted.implode())))
    return pl.concat(frames)


def resolve(signed: Signed, cfg: DedupConfig, exact_dir: str, edges_dir: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(drops, clusters): drops has ref, survivor, reason, similarity; clusters has ref, cluster, kind.

    Near clusters form over exact survivors; each cluster keeps one document by cfg.survivor.
    """
    ws = signed.ws
    exact = read_parts(ws, exact_dir)
    exact = exact if exact is not None else pl.DataFrame(schema={"ref": pl.UInt64, "survivor": pl.UInt64})
    edge_paths = sorted(ws.fs.glob(f"{edges_dir}/part-*.parquet"))

    def chunks():
        for p in edge_paths:
            e = _read(ws, p, ["a", "b"])
            yield e["a"].to_numpy(), e["b"].to_numpy()

    nodes, root = components(chunks) if edge_paths else (np.zeros(0, np.uint64), np.zeros(0, np.uint64))
    members = pl.DataFrame({"ref": nodes, "cluster": root}, schema={"ref": pl.UInt64, "cluster": pl.UInt64})
    ranks = attributes(signed, nodes).select(RANK_COLUMNS)
    near = pick(members.join(ranks, on="ref"), "cluster", cfg.survivor)
    near = near.filter(pl.col("ref") != pl.col("survivor")).select("ref", "survivor")
    near = near.with_columns(
        similarity=pl.Series(
            signed.similarity(near["ref"].to_numpy(), near["survivor"].to_numpy(), cfg.verify), dtype=pl.Float64
        ),
        reason=pl.lit("near_duplicate"),
    )
    exact = exact.with_columns(similarity=pl.lit(1.0), reason=pl.lit("exact_duplicate"))
    drops = pl.concat([exact.select(near.columns), near]).sort("ref")
    clusters = pl.concat(
        [
            exact.select("ref", cluster="survivor", kind=pl.lit("exact")),
            exact.select(ref="survivor", cluster="survivor", kind=pl.lit("exact")).unique(),
            members.with_columns(kind=pl.lit("near")),
        ]
    )
    return drops, clusters


def ledger_rows(signed: Signed, drops: pl.DataFrame) -> pl.DataFrame:
    """Ledger-shaped rows (stage left to the caller) for drops, with the survivor's doc_id in detail."""
    refs = np.concatenate([drops["ref"].to_numpy(), drops["survivor"].to_numpy()])
    attrs = attributes(signed, refs)
    ids = attrs.select("ref", survivor_id="doc_id")
    rows = drops.join(attrs, on="ref").join(ids, left_on="survivor", right_on="ref")
    by_reason = rows.partition_by("reason", as_dict=True)
    return pl.concat([ledger_drops(g, r, pl.col("survivor_id")) for (r,), g in by_reason.items()]).sort("doc_id")


def work_dirs(work: str) -> dict[str, str]:
    return {name: posixpath.join(work, name) for name in ("exact", "edges")}

"""LSH over one partition at a time: band keys out of a shard, candidate pairs out of a bucket group.

Two documents become a candidate pair when they share a band key, i.e. agree on every row of one
band of their signatures. Candidates are then checked against the threshold (exact Jaccard of
shingles by default), so banding only has to avoid misses; a false candidate costs one check.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from forge_core.dedup.index import Signed
from forge_core.dedup.minhash import band_keys

PAIRS = {"a": pl.UInt64, "b": pl.UInt64}


def shard_band_keys(signed: Signed, shard: int, dropped: np.ndarray, bands: int, rows: int) -> pl.DataFrame:
    """(key, ref) for every band of every document of the shard not in `dropped` (exact duplicates)."""
    sigs = signed.array(shard, "signatures")
    refs = (np.uint64(shard) << np.uint64(32)) + np.arange(sigs.shape[0], dtype=np.uint64)
    keep = ~np.isin(refs, dropped)
    keys = band_keys(np.asarray(sigs[keep]), bands, rows)
    return pl.DataFrame(
        {"key": keys.ravel(), "ref": np.repeat(refs[keep], bands)}, schema={"key": pl.UInt64, "ref": pl.UInt64}
    )


def bucket_pairs(part: pl.DataFrame, cap: int) -> pl.DataFrame:
    """Distinct candidate pairs (a < b) from the buckets of part (key, ref; whole buckets only).

    A bucket of up to `cap` members proposes all its pairs; a bigger one (a boilerplate page copied
    thousands of times) proposes each member with its successor and with the first, which keeps it
    connected in the components without a quadratic number of checks.
    """
    buckets = (
        part.group_by("key")
        .agg(pl.col("ref").unique().sort())
        .filter(pl.col("ref").list.len() > 1)
        .select("ref", n=pl.col("ref").list.len())
    )
    small = buckets.filter(pl.col("n") <= cap).select(a="ref", b="ref").explode("a").explode("b")
    big = buckets.filter(pl.col("n") > cap)
    chain = big.select(a=pl.col("ref").list.slice(0, pl.col("n") - 1), b=pl.col("ref").list.slice(1)).explode("a", "b")
    star = big.select(a=pl.col("ref").list.first(), b=pl.col("ref").list.slice(1)).explode("b")
    pairs = pl.concat([small, chain, star], how="vertical").filter(pl.col("a") < pl.col("b"))
    return pairs.unique().cast(PAIRS)


def verify(pairs: pl.DataFrame, signed: Signed, threshold: float, how: str) -> pl.DataFrame:
    """The pairs whose similarity (exact or estimated, see Signed.similarity) reaches the threshold."""
    pairs = pairs.unique().sort("a", "b")
    sim = signed.similarity(pairs["a"].to_numpy(), pairs["b"].to_numpy(), how)
    return pairs.with_columns(similarity=pl.Series(sim, dtype=pl.Float64)).filter(pl.col("similarity") >= threshold)

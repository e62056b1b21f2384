"""Exact duplicates: documents whose text is identical once case and whitespace are ignored."""

from __future__ import annotations

import hashlib

import polars as pl

from forge_core.steps import drops


def text_hashes(texts: pl.Series) -> pl.Series:
    """A 128-bit hash of each text, lowercased with whitespace collapsed (stable across versions)."""
    normalized = texts.str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
    return pl.Series(
        "text_hash",
        [hashlib.blake2b(t.encode("utf-8"), digest_size=16).hexdigest() for t in normalized],
        dtype=pl.String,
    )


def exact_duplicates(index: pl.DataFrame) -> pl.DataFrame:
    """Ledger rows for every document whose text_hash an earlier source already has.

    index: doc_id, source_uri, raw_sha256, bytes, source_file, row, text_hash. The survivor of
    each group is the earliest source (by file URI, then row number), so reruns agree.
    """
    ranked = index.sort("source_file", "row", nulls_last=False).with_columns(
        survivor=pl.col("doc_id").first().over("text_hash")
    )
    dup = ranked.filter(pl.col("doc_id") != pl.col("survivor"))
    return drops(dup, "exact_duplicate", pl.col("survivor"))

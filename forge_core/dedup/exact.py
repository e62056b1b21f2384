"""Exact duplicates: documents whose text is identical once case and whitespace are ignored."""

from __future__ import annotations

import hashlib

import polars as pl

from forge_core.dedup.survivors import pick


def text_hashes(texts: pl.Series) -> pl.Series:
    """A 128-bit hash of each text, lowercased with whitespace collapsed (stable across versions)."""
    normalized = texts.str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
    return pl.Series(
        "text_hash",
        [hashlib.blake2b(t.encode("utf-8"), digest_size=16).hexdigest() for t in normalized],
        dtype=pl.String,
    )


def exact_drops(part: pl.DataFrame, rule: str) -> pl.DataFrame:
    """(ref, survivor) for every document of `part` whose text_hash a better-ranked one shares.

    part holds whole text_hash groups (the shuffle put every member of a group in one partition).
    """
    chosen = pick(part, "text_hash", rule)
    return chosen.filter(pl.col("ref") != pl.col("survivor")).select("ref", "survivor")

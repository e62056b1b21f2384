"""Which document of a duplicate cluster is kept: a total order, so every run picks the same one."""

from __future__ import annotations

import polars as pl

# Sort keys, best first; ref (shard number, then row) breaks every remaining tie.
RULES: dict[str, list[tuple[str, bool]]] = {
    "earliest": [("source_file", False), ("row", False), ("ref", False)],
    "longest": [("n_chars", True), ("source_file", False), ("row", False), ("ref", False)],
    "first_seen": [("ref", False)],
}
COLUMNS = ["ref", "n_chars", "source_file", "row"]


def ranked(frame: pl.DataFrame, rule: str) -> pl.DataFrame:
    """frame (with COLUMNS) sorted best survivor first."""
    keys = RULES[rule]
    return frame.sort([k for k, _ in keys], descending=[d for _, d in keys], nulls_last=False)


def pick(frame: pl.DataFrame, group: str, rule: str) -> pl.DataFrame:
    """frame with a `survivor` column: the best ref of its group."""
    return ranked(frame, rule).with_columns(survivor=pl.col("ref").first().over(group))

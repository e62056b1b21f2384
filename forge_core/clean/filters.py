"""Quality filters, first version: the minimum length a document needs to teach the model anything."""

from __future__ import annotations

import polars as pl

from forge_core.config import CleanConfig
from forge_core.steps import StepResult, drops


def min_length(shard: pl.DataFrame, cfg: CleanConfig) -> StepResult:
    shard = shard.with_columns(n_words=pl.col("text").str.count_matches(r"\S+").cast(pl.Int64))
    keep = pl.col("n_words") >= cfg.min_words
    short = shard.filter(~keep)
    detail = pl.format("{} words < clean.min_words = {}", pl.col("n_words"), pl.lit(cfg.min_words))
    return StepResult(kept=shard.filter(keep), dropped=drops(short, "too_short", detail))

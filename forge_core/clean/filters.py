"""Quality filters, first version: the minimum length a document needs to teach the model anything."""

from __future__ import annotations

import polars as pl

from forge_core.config import CleanConfig
from forge_core.steps import StepResult, drops

# Chinese and Japanese are written without spaces: counting whitespace-separated tokens would
# call a page of Japanese one "word" and drop it. Each Han or kana character counts as a word
# instead (a Chinese word is 1-2 characters, so this errs towards keeping).
UNSPACED = r"[\p{Han}\p{Hiragana}\p{Katakana}]"
SPACED_WORD = r"[^\s\p{Han}\p{Hiragana}\p{Katakana}]+"


def word_count(text: pl.Expr) -> pl.Expr:
    return (text.str.count_matches(SPACED_WORD) + text.str.count_matches(UNSPACED)).cast(pl.Int64)


def min_length(shard: pl.DataFrame, cfg: CleanConfig) -> StepResult:
    shard = shard.with_columns(n_words=word_count(pl.col("text")))
    keep = pl.col("n_words") >= cfg.min_words
    short = shard.filter(~keep)
    detail = pl.format("{} words < clean.min_words = {}", pl.col("n_words"), pl.lit(cfg.min_words))
    return StepResult(kept=shard.filter(keep), dropped=drops(short, "too_short", detail))

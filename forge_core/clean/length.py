"""Length: the shortest and longest documents worth training on."""

from __future__ import annotations

import polars as pl
from pydantic import Field

from forge_core.section import Section
from forge_core.steps import StepResult, drops

# Chinese and Japanese are written without spaces: counting whitespace-separated tokens would
# call a page of Japanese one "word" and drop it. Each Han or kana character counts as a word
# instead (a Chinese word is 1-2 characters, so this errs towards keeping).
UNSPACED = r"[\p{Han}\p{Hiragana}\p{Katakana}]"
SPACED_WORD = r"[^\s\p{Han}\p{Hiragana}\p{Katakana}]+"

REASONS = {
    "too_short": "fewer words than clean.length.min_words after cleaning",
    "too_long": "more words than clean.length.max_words",
}


class LengthConfig(Section):
    """The shortest and longest documents worth training on.

    Words are counted after cleaning; a Han or kana character counts as a word.
    """

    min_words: int = Field(default=20, ge=0, description="Fewer words after cleaning: dropped as too_short.")
    max_words: int = Field(default=200_000, gt=0, description="More words: dropped as too_long.")


def word_count(text: pl.Expr) -> pl.Expr:
    return (text.str.count_matches(SPACED_WORD) + text.str.count_matches(UNSPACED)).cast(pl.Int64)


def length_filter(shard: pl.DataFrame, cfg: LengthConfig) -> StepResult:
    shard = shard.with_columns(n_words=word_count(pl.col("text")))
    short = pl.col("n_words") < cfg.min_words
    long = pl.col("n_words") > cfg.max_words
    dropped = pl.concat(
        [
            drops(
                shard.filter(short),
                "too_short",
                pl.format("{} words < clean.length.min_words = {}", pl.col("n_words"), pl.lit(cfg.min_words)),
            ),
            drops(
                shard.filter(long),
                "too_long",
                pl.format("{} words > clean.length.max_words = {}", pl.col("n_words"), pl.lit(cfg.max_words)),
            ),
        ]
    )
    return StepResult(kept=shard.filter(~short & ~long), dropped=dropped)


def count_words(shard: pl.DataFrame) -> StepResult:
    """Recount words after the steps that edit text (C4 removes lines), for stats and the report."""
    return StepResult(kept=shard.with_columns(n_words=word_count(pl.col("text"))))

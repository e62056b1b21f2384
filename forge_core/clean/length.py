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

# An e-mail's text begins with its Subject: and Date: lines (readers/mail.py); they are not what
# the sender wrote, so "ok thanks" under a subject line is still a five-word message.
HEADER_LINES = r"\A(?:(?:Subject|Date|From|To|Cc):[^\n]*\n)+"
# Per profile: a company's one-line tickets and chat messages are worth keeping from 6 words on
# (data_samples' content-free notes, "Meeting cancelled – no notes.", have 5); for web text the
# FineWeb recipe's Gopher rules need 50 in English, and 20 is the floor for other languages.
MIN_WORDS = {"enterprise": 6, "web": 20, "none": 0}

REASONS = {
    "too_short": "fewer words than clean.length.min_words after cleaning (e-mail header lines not counted)",
    "too_long": "more words than clean.length.max_words",
}


class LengthConfig(Section):
    """The shortest and longest documents worth training on.

    Words are counted after cleaning; a Han or kana character counts as a word.
    """

    NUMBERS = (
        "min_words: 6 in enterprise, a choice (data_samples' content-free notes such as 'Meeting cancelled - no "
        "notes.' have 5 words, its shortest real tickets 8); 20 in web, a choice for text outside the FineWeb "
        "recipe's Gopher rules, which need 50 English words. max_words: a choice (a 200,000-word document is an "
        "export or a dump, not one text)."
    )

    min_words: int | None = Field(
        default=None,
        ge=0,
        description="Fewer words after cleaning (an e-mail's Subject/Date lines not counted): dropped as "
        "too_short; empty: 6 in the enterprise profile, 20 in web.",
    )
    max_words: int = Field(default=200_000, gt=0, description="More words: dropped as too_long.")


def word_count(text: pl.Expr) -> pl.Expr:
    return (text.str.count_matches(SPACED_WORD) + text.str.count_matches(UNSPACED)).cast(pl.Int64)


def length_filter(shard: pl.DataFrame, cfg: LengthConfig, profile: str = "enterprise") -> StepResult:
    min_words = cfg.min_words if cfg.min_words is not None else MIN_WORDS[profile]
    shard = shard.with_columns(n_words=word_count(pl.col("text")))
    content = word_count(pl.col("text").str.replace(HEADER_LINES, ""))
    short = content < min_words
    long = pl.col("n_words") > cfg.max_words
    dropped = pl.concat(
        [
            drops(
                shard.filter(short),
                "too_short",
                pl.format("{} words < clean.length.min_words = {}", content, pl.lit(min_words)),
            ),
            drops(
                shard.filter(long),
                "too_long",
                pl.format("{} words > clean.length.max_words = {}", pl.col("n_words"), pl.lit(cfg.max_words)),
            ),
        ]
    )
    return StepResult(kept=shard.filter(~(short | long)), dropped=dropped)


def count_words(shard: pl.DataFrame) -> StepResult:
    """Recount words after the steps that edit text (C4 removes lines), for stats and the report."""
    return StepResult(kept=shard.with_columns(n_words=word_count(pl.col("text"))))

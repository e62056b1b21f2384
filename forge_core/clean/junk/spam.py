"""Keyword spam: a few words repeated to fill a page (SEO text, tag clouds, stuffed metadata).
Gopher's repetition rules catch it in English web text; this one judges every document, since
spam identifies as no language in particular."""

from __future__ import annotations

import re
from collections import Counter

import polars as pl
from pydantic import Field

from forge_core.section import Section
from forge_core.steps import StepResult, apply_rules

REASONS = {"keyword_spam": "a few words repeated over and over"}

WORD = re.compile(r"\w{3,}")


class SpamConfig(Section):
    """Keyword spam: a handful of words make up most of a long document."""

    NUMBERS = (
        "max_top_word_share 0.25: labelled set: genuine documents at most 0.23 (99th percentile 0.19), keyword "
        "spam 0.25 median. min_distinct_share 0.15: genuine documents at least 0.14 (median 0.64), spam at "
        "most 0.125. max_words_for_distinct 1000: the Python docs of ../shared/corpora (29 long manual pages "
        "fell below 0.15 without it). min_words 30: a choice."
    )

    enabled: bool | None = Field(default=None, description="true or false; empty: as clean.profile says.")
    min_words: int = Field(default=30, ge=1, description="Documents with fewer words (of 3+ letters) are not judged.")
    max_top_word_share: float = Field(
        default=0.25,
        ge=0.0,
        le=1.0,
        description="Share of the words that are the most frequent one, at most (prose: under 0.1; 'the' is "
        "not counted as it has 3 letters only in English, where it stays near 0.07).",
    )
    min_distinct_share: float = Field(
        default=0.15,
        ge=0.0,
        le=1.0,
        description="Distinct words per word, at least, in documents of up to max_words_for_distinct words "
        "(prose: 0.4 or more; the share falls as a document grows, so a long manual is not judged by it).",
    )
    max_words_for_distinct: int = Field(default=1000, ge=1, description="Longer documents: top word share only.")


def spam_measures(text: str) -> tuple[int, float, float]:
    words = [w.lower() for w in WORD.findall(text)]
    if not words:
        return 0, 0.0, 1.0
    counts = Counter(words)
    return len(words), counts.most_common(1)[0][1] / len(words), len(counts) / len(words)


def spam_filter(shard: pl.DataFrame, cfg: SpamConfig) -> StepResult:
    if shard.is_empty():
        return StepResult(kept=shard)
    measured = [spam_measures(t) for t in shard["text"]]
    fails = pl.Series(
        [
            n >= cfg.min_words
            and (
                top > cfg.max_top_word_share or (n <= cfg.max_words_for_distinct and distinct < cfg.min_distinct_share)
            )
            for n, top, distinct in measured
        ]
    )
    detail = (
        f"top word > clean.spam.max_top_word_share = {cfg.max_top_word_share} or distinct words < "
        f"clean.spam.min_distinct_share = {cfg.min_distinct_share}"
    )
    return apply_rules(shard, [("keyword_spam", fails, detail)])

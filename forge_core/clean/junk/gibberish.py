"""Gibberish: keyboard mash and random letters. In any alphabetic language words alternate
consonants and vowels; mash and random strings do not, so the rule measures the share of words
with no vowel or with a long run of consonants. Scripts without vowel letters (Han, kana, Hangul,
Arabic, Hebrew, ...) are not judged."""

from __future__ import annotations

import re

import polars as pl
from pydantic import Field

from forge_core.section import Section
from forge_core.steps import StepResult, apply_rules

REASONS = {"gibberish": "words that no alphabetic language writes (no vowels, long consonant runs)"}

# Latin, Greek and Cyrillic words; vowels of each (with their accented forms via the ranges).
WORD = re.compile(r"[a-zA-Z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]{4,}")
VOWELS = set("aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿāăąēĕėęěīĭįıōŏőœūŭůűųαεηιουωάέήίόύώаеёиоуыэюяіїєѣ")


def _odd(word: str, run: int) -> bool:
    streak = 0
    has_vowel = False
    for c in word.lower():
        if c in VOWELS:
            has_vowel = True
            streak = 0
        else:
            streak += 1
            if streak >= run:
                return True
    return not has_vowel


class GibberishConfig(Section):
    """Gibberish: words without vowels or with long consonant runs (keyboard mash, random letters)."""

    enabled: bool | None = Field(default=None, description="true or false; empty: as clean.profile says.")
    min_words: int = Field(default=3, ge=1, description="Documents with fewer alphabetic words of 4+ letters pass.")
    consonant_run: int = Field(
        default=5, ge=2, description="Consonants in a row that make a word odd ('Deutschland' has 4: tschl is 5)."
    )
    max_odd_share: float = Field(
        default=0.35,
        ge=0.0,
        le=1.0,
        description="Share of odd words, at most (prose in English, German, Polish, Czech stays under 0.15).",
    )


def odd_share(text: str, run: int) -> tuple[int, float]:
    words = WORD.findall(text)
    return len(words), (sum(_odd(w, run) for w in words) / len(words) if words else 0.0)


def gibberish_filter(shard: pl.DataFrame, cfg: GibberishConfig) -> StepResult:
    if shard.is_empty():
        return StepResult(kept=shard)
    measured = [odd_share(t, cfg.consonant_run) for t in shard["text"]]
    fails = pl.Series([n >= cfg.min_words and share > cfg.max_odd_share for n, share in measured])
    detail = f"odd words > clean.gibberish.max_odd_share = {cfg.max_odd_share}"
    return apply_rules(shard, [("gibberish", fails, detail)])

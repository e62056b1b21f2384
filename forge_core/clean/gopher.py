"""The Gopher rules (Rae et al. 2021, appendix A), with the thresholds of datatrove's FineWeb recipe.

Quality: length, mean word length, symbols, bullet and ellipsis lines, words without letters, and
(English only) stop words; vectorized over the shard with polars. Repetition: duplicated lines
and paragraphs and over-frequent n-grams, the marks of boilerplate and spam; per document, since
it counts n-grams.
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl
from pydantic import Field

from forge_core.section import Section
from forge_core.steps import StepResult, apply_rules

STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
WORD = r"\S*[\p{L}\p{N}]\S*"  # a token with at least one letter or digit: punctuation alone is no word

ENABLED = "Run this rule: true or false; empty: as clean.profile says (the web profile runs it)."

# The ledger reasons each rule records, with what they mean to an auditor (<n>: an n-gram size).
QUALITY_REASONS = {
    "gopher_too_few_words": "fewer words than min_doc_words",
    "gopher_too_many_words": "more words than max_doc_words",
    "gopher_short_words": "mean word length below min_avg_word_length (tables of codes, stuttering text)",
    "gopher_long_words": "mean word length above max_avg_word_length (URLs, encoded data)",
    "gopher_symbols": "too many '#' and '...' per word",
    "gopher_bullet_lines": "almost every line is a bullet",
    "gopher_ellipsis_lines": "too many lines end in '...' (truncated snippets)",
    "gopher_non_alpha_words": "too few words contain a letter",
    "gopher_few_stop_words": "an English document without the common English function words",
}
REPETITION_REASONS = {
    "gopher_duplicate_paragraphs": "too many paragraphs repeat an earlier one",
    "gopher_duplicate_paragraph_chars": "too many characters in repeated paragraphs",
    "gopher_duplicate_lines": "too many lines repeat an earlier one",
    "gopher_duplicate_line_chars": "too many characters in repeated lines",
    "gopher_top_<n>_gram": "the most frequent n-gram covers too much of the text",
    "gopher_duplicate_<n>_grams": "too many characters inside repeated n-grams",
}


class GopherQualityConfig(Section):
    """Gopher quality rules (Rae et al. 2021, as in datatrove's FineWeb recipe).

    Document length in words, mean word length, '#' and '...' per word, bullet and ellipsis lines,
    words with letters, and (English only) stop words.
    """

    NUMBERS = "Rae et al. 2021 (Gopher), as datatrove's FineWeb recipe sets them."

    enabled: bool | None = Field(default=None, description=ENABLED)
    min_doc_words: int = Field(default=50, ge=0, description="Fewer words: gopher_too_few_words.")
    max_doc_words: int = Field(default=100_000, gt=0, description="More words: gopher_too_many_words.")
    min_avg_word_length: float = Field(default=3.0, ge=0.0, description="Mean word length below: gopher_short_words.")
    max_avg_word_length: float = Field(default=10.0, gt=0.0, description="Mean word length above: gopher_long_words.")
    max_symbol_word_ratio: float = Field(default=0.1, ge=0.0, description="'#' and '...' per word above this: dropped.")
    max_bullet_lines_ratio: float = Field(
        default=0.9, ge=0.0, le=1.0, description="Share of lines starting with a bullet."
    )
    max_ellipsis_lines_ratio: float = Field(default=0.3, ge=0.0, le=1.0, description="Share of lines ending in '...'.")
    max_non_alpha_words_ratio: float = Field(
        default=0.8, ge=0.0, le=1.0, description="At least this share of words must contain a letter."
    )
    min_stop_words: int = Field(
        default=2, ge=0, description="English documents need this many of: the, be, to, of, and, that, have, with."
    )


class GopherRepetitionConfig(Section):
    """Gopher repetition rules: repeated lines, paragraphs and n-grams (boilerplate, spam).

    Repeated lines and paragraphs, over-frequent 2-4-grams and repeated 5-10-grams (Rae et al. 2021).
    """

    NUMBERS = "Rae et al. 2021 (Gopher), Table A1, as datatrove's FineWeb recipe sets them."

    enabled: bool | None = Field(default=None, description=ENABLED)
    dup_line_frac: float = Field(default=0.3, ge=0.0, le=1.0, description="Share of lines that are repeats.")
    dup_para_frac: float = Field(default=0.3, ge=0.0, le=1.0, description="Share of paragraphs that are repeats.")
    dup_line_char_frac: float = Field(default=0.2, ge=0.0, le=1.0, description="Share of characters in repeated lines.")
    dup_para_char_frac: float = Field(
        default=0.2, ge=0.0, le=1.0, description="Share of characters in repeated paragraphs."
    )
    top_n_grams: dict[int, float] = Field(
        default={2: 0.2, 3: 0.18, 4: 0.16}, description="n: the most frequent n-gram's share of characters, at most."
    )
    dup_n_grams: dict[int, float] = Field(
        default={5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10},
        description="n: share of characters in repeated n-grams, at most.",
    )


def gopher_quality(shard: pl.DataFrame, cfg: GopherQualityConfig, languages: list[str]) -> StepResult:
    if shard.is_empty():
        return StepResult(kept=shard)
    text = pl.col("text")
    words = text.str.extract_all(WORD)
    lines = text.str.split("\n")
    m = shard.select(
        n_words=words.list.len(),
        n_tokens=text.str.count_matches(r"\S+"),
        word_chars=words.list.eval(pl.element().str.len_chars()).list.sum(),
        symbols=text.str.count_matches("#") + text.str.count_matches(r"\.\.\.|…"),
        n_lines=lines.list.len(),
        bullets=lines.list.eval(pl.element().str.strip_chars_start().str.contains(r"^[•\-*●]")).list.sum(),
        ellipsis=lines.list.eval(pl.element().str.strip_chars_end().str.contains(r"(\.\.\.|…)$")).list.sum(),
        alpha=text.str.count_matches(r"\S*\p{L}\S*"),
        stop=text.str.to_lowercase().str.count_matches(r"\b(?:" + "|".join(STOP_WORDS) + r")\b"),
        english=pl.col("language").fill_null("en") == "en" if "language" in shard.columns else pl.lit(True),
    )
    per_word = m["n_words"].clip(lower_bound=1)
    avg = m["word_chars"] / per_word
    rules = [  # (reason, fails, detail), checked in this order
        ("gopher_too_few_words", m["n_words"] < cfg.min_doc_words, f"words < min_doc_words = {cfg.min_doc_words}"),
        ("gopher_too_many_words", m["n_words"] > cfg.max_doc_words, f"words > max_doc_words = {cfg.max_doc_words}"),
        ("gopher_short_words", avg < cfg.min_avg_word_length, f"mean word length < {cfg.min_avg_word_length}"),
        ("gopher_long_words", avg > cfg.max_avg_word_length, f"mean word length > {cfg.max_avg_word_length}"),
        (
            "gopher_symbols",
            m["symbols"] / per_word > cfg.max_symbol_word_ratio,
            f"'#' and '...' per word > {cfg.max_symbol_word_ratio}",
        ),
        (
            "gopher_bullet_lines",
            m["bullets"] / m["n_lines"] > cfg.max_bullet_lines_ratio,
            f"share of bullet lines > {cfg.max_bullet_lines_ratio}",
        ),
        (
            "gopher_ellipsis_lines",
            m["ellipsis"] / m["n_lines"] > cfg.max_ellipsis_lines_ratio,
            f"share of lines ending in '...' > {cfg.max_ellipsis_lines_ratio}",
        ),
        (
            "gopher_non_alpha_words",
            m["alpha"] / m["n_tokens"].clip(lower_bound=1) < cfg.max_non_alpha_words_ratio,
            f"share of words with a letter < {cfg.max_non_alpha_words_ratio}",
        ),
        (
            "gopher_few_stop_words",
            m["english"] & (m["stop"] < cfg.min_stop_words),
            f"English stop words < {cfg.min_stop_words}",
        ),
    ]
    return apply_rules(shard, rules, in_scope(shard, languages))


def in_scope(shard: pl.DataFrame, languages: list[str]) -> pl.Series:
    """Which documents a language-tuned rule may judge: those identified as one of `languages`
    (every document when the list is empty or language id is off)."""
    if not languages or "language" not in shard.columns or shard["language"].null_count() == shard.height:
        return pl.Series([True] * shard.height, dtype=pl.Boolean)
    return shard["language"].is_in(languages).fill_null(False)


# Repetition -------------------------------------------------------------------------------------
def duplicates(items: list[str]) -> tuple[int, int]:
    """(elements that repeat an earlier one, their characters)."""
    seen: set[str] = set()
    n = chars = 0
    for item in items:
        if item in seen:
            n += 1
            chars += len(item)
        else:
            seen.add(item)
    return n, chars


def ngram_hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """A 64-bit polynomial hash of every n-gram of word ids (collisions are negligible at 2^-64)."""
    h = np.zeros(len(ids) - n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):  # wrap-around is the modulus
        for k in range(n):
            h = h * np.uint64(1_000_003) + ids[k : k + len(h)]
    return h


def top_ngram_chars(ids: np.ndarray, lengths: np.ndarray, n: int) -> int:
    """Characters covered by the most frequent n-gram (with its spaces), times its count."""
    if len(ids) < n:
        return 0
    h = ngram_hashes(ids, n)
    values, first, counts = np.unique(h, return_index=True, return_counts=True)
    top = int(np.argmax(counts))
    if counts[top] < 2:
        return 0
    start = int(first[top])
    return (int(lengths[start : start + n].sum()) + n - 1) * int(counts[top])


def duplicated_ngram_chars(ids: np.ndarray, lengths: np.ndarray, n: int) -> int:
    """Characters of words inside an n-gram seen earlier in the document (each word counted once)."""
    if len(ids) < n:
        return 0
    h = ngram_hashes(ids, n)
    _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
    repeat = first[inverse] != np.arange(len(h))
    if not repeat.any():
        return 0
    cover = np.zeros(len(ids) + 1, dtype=np.int64)  # +1 at each repeated n-gram's start, -1 after its end
    starts = np.flatnonzero(repeat)
    np.add.at(cover, starts, 1)
    np.add.at(cover, starts + n, -1)
    return int(lengths[np.cumsum(cover)[:-1] > 0].sum())


def repetition_reason(text: str, cfg: GopherRepetitionConfig) -> str | None:
    length = max(len(text), 1)
    paragraphs = [p for p in re.split(r"\n{2,}", text.strip()) if p]
    dup, chars = duplicates(paragraphs)
    if paragraphs and dup / len(paragraphs) > cfg.dup_para_frac:
        return "gopher_duplicate_paragraphs"
    if chars / length > cfg.dup_para_char_frac:
        return "gopher_duplicate_paragraph_chars"
    lines = [line for line in text.split("\n") if line]
    dup, chars = duplicates(lines)
    if lines and dup / len(lines) > cfg.dup_line_frac:
        return "gopher_duplicate_lines"
    if chars / length > cfg.dup_line_char_frac:
        return "gopher_duplicate_line_chars"
    words = text.split()
    vocabulary: dict[str, int] = {}
    ids = np.fromiter((vocabulary.setdefault(w, len(vocabulary)) for w in words), dtype=np.uint64, count=len(words))
    lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
    for n, frac in sorted(cfg.top_n_grams.items()):
        if top_ngram_chars(ids, lengths, n) / length > frac:
            return f"gopher_top_{n}_gram"
    for n, frac in sorted(cfg.dup_n_grams.items()):
        if duplicated_ngram_chars(ids, lengths, n) / length > frac:
            return f"gopher_duplicate_{n}_grams"
    return None


def gopher_repetition(shard: pl.DataFrame, cfg: GopherRepetitionConfig, languages: list[str]) -> StepResult:
    if shard.is_empty():
        return StepResult(kept=shard)
    scope = in_scope(shard, languages)
    reasons = pl.Series(
        [repetition_reason(t, cfg) if judged else None for t, judged in zip(shard["text"], scope, strict=True)],
        dtype=pl.String,
    )
    rules = [(r, reasons == r, "see clean.gopher_repetition") for r in reasons.drop_nulls().unique().sort()]
    return apply_rules(shard, rules)

"""Gibberish: keyboard mash, random letters and scrambled words. Two signals, neither tied to a
language:

- In any alphabetic language words alternate consonants and vowels; mash and random strings do
  not, so one signal is the share of words with no vowel or a long run of consonants.
- Real text spells a word the same way each time; scrambled text spells "the" as "teh", "het"
  and "eth". The second signal is the share of words whose letters, sorted, are shared by another
  spelling in the same document (genuine text: under 0.13 on the labelled set; scrambled: 0.6).
- In every alphabetic language a vowel tends to follow a consonant and a consonant a vowel; in
  shuffled letters the neighbour of a vowel is a vowel as often as anywhere. The third signal is
  that alternation: the phi coefficient between "is a vowel" of adjacent letters inside words,
  negated (genuine text in 25 languages: 0.25 or more; shuffled passages: 0.11 or less).

Only documents mostly written in Latin, Greek or Cyrillic letters are judged: in Han, kana,
Hangul, Arabic or Hebrew text the Latin words are names of commands and files."""

from __future__ import annotations

import re
from collections import Counter
from functools import cache

import numpy as np
import polars as pl
from pydantic import Field

from forge_core.clean.junk.letters import alphabetic, letters
from forge_core.section import Section
from forge_core.steps import StepResult, apply_rules

REASONS = {
    "gibberish": "words no language writes (no vowels, long consonant runs), one word spelled many ways, "
    "or letters in random order"
}

# Latin, Greek and Cyrillic words; vowels of each (with their accented forms via the ranges).
WORD = re.compile(r"[a-zA-Z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]{4,}")
SPELLING = re.compile(r"[^\W\d_]{3,}")
# Whole words only: the letters inside "adm3a" or a hex dump's "1a0e" are not a word. The "not after
# a word character" test sits after the first letter (looking two back), so that the pattern starts
# with a character class and the engine skips ahead to a letter instead of trying every position.
_ALPHABETIC = "[a-zA-Z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]"
WHOLE_WORD = re.compile(_ALPHABETIC + r"(?<!\w.)" + _ALPHABETIC + r"{2,}(?!\w)")
VOWELS = set("aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿāăąēĕėęěīĭįıōŏőœūŭůűųαεηιουωάέήίόύώаеёиоуыэюяіїєѣ")


class _Shape(dict):
    """str.translate's table from a letter to "v" (a vowel) or "c" (anything else), "|" kept: a word's
    shape, so that runs and pairs are counted by C string methods rather than a loop per letter."""

    def __missing__(self, code: int) -> str:
        return "|" if code == 124 else "c"


def _shape_table() -> _Shape:
    """Every character a word's shape is made of (the letters WORD matches and their lower case)
    filled in: str.translate looks each one up in C, where a missing one costs a Python call."""
    letters = [
        chr(c)
        for lo, hi in ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF))
        for c in range(lo, hi + 1)
    ]
    table = _Shape({ord(c): "v" if c in VOWELS else "c" for word in letters for c in word + word.lower()})
    table[ord("|")] = "|"
    return table


SHAPE = _shape_table()


@cache
def _odd_patterns(run: int) -> tuple[re.Pattern, re.Pattern]:
    """In a text's word shapes joined by "|": words with `run` consonants in a row; shorter words of
    consonants only (longer ones are in the first). Together: the odd words, each counted once."""
    return re.compile(f"[^|]*{'c' * run}[^|]*"), re.compile(f"(?<![^|])c{{1,{run - 1}}}(?![^|])" if run > 1 else "(?!)")


class GibberishConfig(Section):
    """Gibberish: words without vowels or with long consonant runs (keyboard mash, random
    letters), words spelled many ways, letters in random order."""

    NUMBERS = (
        "max_odd_share, max_anagram_share, min_alternation: labelled set, in the field descriptions. consonant_run "
        "5: German and Dutch write 4 ('Herbst'). min_words 3, min_letter_pairs 100, min_alphabetic_share 0.5: "
        "choices (too little text to judge; scripts without vowels in the Latin sense are not judged)."
    )

    enabled: bool | None = Field(default=None, description="true or false; empty: as clean.profile says.")
    min_words: int = Field(default=3, ge=1, description="Documents with fewer alphabetic words of 4+ letters pass.")
    consonant_run: int = Field(
        default=5, ge=2, description="Consonants in a row that make a word odd (German has 4: 'Herbst', 'nächste')."
    )
    max_odd_share: float = Field(
        default=0.25,
        ge=0.0,
        le=1.0,
        description="Share of odd words, at most (labelled set, runs of 5: genuine text near 0, keyboard mash "
        "and random characters mostly above).",
    )
    max_anagram_share: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="Share of words spelled with the same letters as another word of the document, at most "
        "(labelled set: genuine at most 0.125; scrambled words 0.6).",
    )
    min_alternation: float = Field(
        default=0.15,
        ge=-1.0,
        le=1.0,
        description="Vowel-consonant alternation of adjacent letters in words, at least (the phi coefficient, "
        "negated; labelled set: genuine text in 25 languages 0.25 or more, shuffled letters 0.11 or less).",
    )
    min_letter_pairs: int = Field(
        default=100, ge=1, description="Documents with fewer adjacent letter pairs in words are not judged by it."
    )
    min_alphabetic_share: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Documents with fewer of their letters Latin/Greek/Cyrillic pass."
    )


def odd_share(text: str, run: int) -> tuple[int, float]:
    """(words, share of them with no vowel or `run` consonants in a row)."""
    words = WORD.findall(text)
    if not words:
        return 0, 0.0
    # Lower case is per character but for the final sigma, which is a consonant either way.
    shapes = "|".join(words).lower().translate(SHAPE)
    long_runs, short_vowelless = _odd_patterns(run)
    return len(words), (len(long_runs.findall(shapes)) + len(short_vowelless.findall(shapes))) / len(words)


def anagram_share(text: str) -> float:
    """Share of word occurrences spelled with the same letters as another word of the text."""
    counts = Counter(map(str.lower, SPELLING.findall(text)))
    total = sum(counts.values())
    if total < 10:
        return 0.0
    letters_of = {word: "".join(sorted(word)) for word in counts}  # each spelling's letters, sorted once
    spellings = Counter(letters_of.values())  # how many spellings share those letters
    return sum(n for word, n in counts.items() if spellings[letters_of[word]] > 1) / total


def alternation(text: str) -> tuple[int, float]:
    """(adjacent letter pairs inside words, how strongly vowels and consonants alternate in them):
    the phi coefficient between "is a vowel" of each letter and of the next, negated, so that 0 is
    letters in random order and 1 is strict alternation."""
    shape = "|".join(WHOLE_WORD.findall(text.lower())).translate(SHAPE).encode("ascii")
    letters = np.frombuffer(shape, dtype=np.uint8)
    first, second = letters[:-1], letters[1:]
    inside = (first != ord("|")) & (second != ord("|"))  # a pair of letters of one word
    vowel_first, vowel_second = first == ord("v"), second == ord("v")
    n = [[0, 0], [0, 0]]
    for a in (0, 1):
        for b in (0, 1):
            n[a][b] = int(np.count_nonzero(inside & (vowel_first == bool(a)) & (vowel_second == bool(b))))
    pairs = n[0][0] + n[0][1] + n[1][0] + n[1][1]
    spread = (n[0][0] + n[0][1]) * (n[1][0] + n[1][1]) * (n[0][0] + n[1][0]) * (n[0][1] + n[1][1])
    if not spread:
        return pairs, 0.0
    return pairs, -(n[0][0] * n[1][1] - n[0][1] * n[1][0]) / spread**0.5


def gibberish(text: str, cfg: GibberishConfig) -> bool:
    n_letters = letters(text)
    if not n_letters or alphabetic(text) / n_letters < cfg.min_alphabetic_share:
        return False
    n, odd = odd_share(text, cfg.consonant_run)
    if (n >= cfg.min_words and odd > cfg.max_odd_share) or anagram_share(text) > cfg.max_anagram_share:
        return True
    pairs, alternating = alternation(text)
    return pairs >= cfg.min_letter_pairs and alternating < cfg.min_alternation


def gibberish_filter(shard: pl.DataFrame, cfg: GibberishConfig) -> StepResult:
    if shard.is_empty():
        return StepResult(kept=shard)
    fails = pl.Series([gibberish(t, cfg) for t in shard["text"]])
    detail = (
        f"odd words > clean.gibberish.max_odd_share = {cfg.max_odd_share} or respelled words > "
        f"clean.gibberish.max_anagram_share = {cfg.max_anagram_share} or vowel-consonant alternation < "
        f"clean.gibberish.min_alternation = {cfg.min_alternation}"
    )
    return apply_rules(shard, [("gibberish", fails, detail)])

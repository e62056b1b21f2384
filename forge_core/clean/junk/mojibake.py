"""Unrepairable mojibake: text decoded with the wrong encoding, often more than once, that ftfy
could not put back (normalization repairs what it can before this rule looks). Its marks are
character sequences that no language writes: ftfy's badness counts those of the Windows and
Latin code pages (Ã©, â€™, ...), and words that mix scripts or box-drawing characters with
letters are the marks of the others (KOI8-R's 'cafц╘', ISO 8859-7's 'cafΓ©'); U+FFFD marks a byte
that a lossy decode threw away (no genuine document of the labelled set holds one)."""

from __future__ import annotations

import re

import polars as pl
from ftfy.badness import BADNESS_RE
from pydantic import Field

from forge_core.clean.junk.letters import NON_ASCII
from forge_core.section import Section
from forge_core.steps import StepResult, apply_rules

REASONS = {"mojibake": "mis-decoded text that could not be repaired"}

# A word: a run of letters and box-drawing characters. Punctuation, digits and "_" split it, so
# "--memlimit=обмеження", "BSD-производный" and "КАТАЛОГ_CHROOT" are two words each, not one mixed.
TOKEN = re.compile(r"(?:[^\W\d_]|[\u2500-\u259f])+")
SCRIPTS = (
    re.compile(r"[A-Za-z\u00c0-\u024f]"),  # Latin
    re.compile(r"[\u0400-\u04ff]"),  # Cyrillic
    re.compile(r"[\u0370-\u03ff]"),  # Greek
)
# Box drawing between letters ("п╟я─п╦"): a DOS or KOI8 code page's mojibake. A table's border
# touches a word only at its edge ("│Identifier", "├─user.slice").
BOX = re.compile(r"[^\W\d_][\u2500-\u259f]+[^\W\d_]")


class MojibakeConfig(Section):
    """Unrepairable mojibake: marks of mis-decoded text (ftfy's, mixed-script words) left after repair."""

    NUMBERS = (
        "max_marks_per_1000 4: labelled set: every genuine document scores 0 after normalization's repair, "
        "unrepaired mojibake 194 median. min_chars 20: a choice."
    )

    enabled: bool | None = Field(default=None, description="true or false; empty: as clean.profile says.")
    min_chars: int = Field(default=20, ge=1, description="Shorter documents are not judged.")
    max_marks_per_1000: float = Field(
        default=4.0,
        ge=0.0,
        description="ftfy badness marks per 1,000 characters, at most (repaired or clean text scores 0-1).",
    )


# Without a Greek, Cyrillic or box-drawing character no word can mix scripts or hold a box: the
# whole text is looked at once, and only the words holding one are looked at one by one.
RARE = re.compile(r"[\u0370-\u03ff\u0400-\u04ff\u2500-\u259f]")


def mixed_words(text: str) -> int:
    """Words that mix Latin, Cyrillic and Greek letters, or hold box-drawing characters between letters."""
    if not RARE.search(text):
        return 0
    n = 0
    for token in TOKEN.findall(text):
        if not RARE.search(token):
            continue
        scripts = sum(bool(script.search(token)) for script in SCRIPTS)
        if scripts >= 2 or BOX.search(token):
            n += 1
    return n


# Every match of ftfy's badness pattern holds a character outside ASCII and spans at most
# BADNESS_WIDTH characters (tests/test_clean_speed.py proves both of the installed ftfy from the
# pattern itself), so each lies within BADNESS_WIDTH - 1 characters of a non-ASCII one.
BADNESS_WIDTH = 7


def badness_windows(text: str) -> list[str]:
    """The pieces of a text where ftfy's badness can match: each run of non-ASCII characters with
    BADNESS_WIDTH - 1 characters either side, runs closer than twice that merged into one piece.

    Pieces are then far enough apart that no match spans two, and a piece starts at the text's
    start or with ASCII characters, so the pattern's "^" matches where it would in the whole text.
    Documentation with a pilcrow or a curly quote per paragraph is a few percent of its length.
    """
    context = BADNESS_WIDTH - 1
    pieces = []
    start = end = -1
    for run in NON_ASCII.finditer(text):
        s, e = run.span()
        if start >= 0 and s - end <= 2 * context:
            end = e
            continue
        if start >= 0:
            pieces.append(text[max(start - context, 0) : end + context])
        start, end = s, e
    if start >= 0:
        pieces.append(text[max(start - context, 0) : end + context])
    return pieces


def badness(text: str) -> int:
    """ftfy's badness (its pattern's non-overlapping matches), counted over badness_windows only."""
    return sum(len(BADNESS_RE.findall(piece)) for piece in badness_windows(text))


def marks_per_1000(text: str) -> float:
    """ftfy's badness, mixed-script words and U+FFFD (a byte lost to a lossy decode) per 1,000 characters.

    ASCII text has none of them (every pattern of ftfy's badness needs a character outside ASCII),
    so it is not scanned, nor are the long ASCII stretches of other text (badness_windows)."""
    if not text or text.isascii():
        return 0.0
    return 1000.0 * (badness(text) + mixed_words(text) + text.count("\ufffd")) / len(text)


def mojibake_filter(shard: pl.DataFrame, cfg: MojibakeConfig) -> StepResult:
    if shard.is_empty():
        return StepResult(kept=shard)
    fails = pl.Series([len(t) >= cfg.min_chars and marks_per_1000(t) > cfg.max_marks_per_1000 for t in shard["text"]])
    detail = f"mojibake marks per 1,000 characters > clean.mojibake.max_marks_per_1000 = {cfg.max_marks_per_1000}"
    return apply_rules(shard, [("mojibake", fails, detail)])

"""Unicode and whitespace normalization, vectorized over a shard with polars.

Mojibake (UTF-8 read as Latin-1 or cp1252, e.g. 'cafÃ©') is repaired with ftfy, but only in the
documents that show its telltale characters: ftfy reads every character, so running it on the
whole shard would cost more than the rest of normalization together.
"""

from __future__ import annotations

from typing import Literal

import ftfy
import polars as pl
from pydantic import Field

from forge_core.section import Section
from forge_core.steps import StepResult

REASONS: dict[str, str] = {}  # normalization edits text and never drops a document

# C0/C1 control characters except tab and newline, plus zero-width characters and stray BOMs:
# invisible in an editor, yet they split words for the tokenizer and defeat exact dedup.
INVISIBLE = r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]"
# Sequences UTF-8 becomes when decoded as cp1252/Latin-1: Ã© Ã¼ â€™ Â  Ð¿ ...
MOJIBAKE = (
    r"[ÃÂ][\x80-\xbf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122]|â€|Ã[\s\w]"
)


class NormalizeConfig(Section):
    """Unicode, control characters, whitespace and line breaks.

    Mojibake repaired with ftfy (only in documents that show its marks), Unicode NFC or NFKC,
    control and zero-width characters removed, spaces inside lines collapsed (indentation kept),
    at most `max_blank_lines` blank lines.
    """

    unicode_form: Literal["NFC", "NFKC"] = Field(
        default="NFC", description="NFC keeps characters as written; NFKC also folds compatibility forms."
    )
    fix_mojibake: bool = Field(default=True, description="Repair mis-decoded text (ftfy), e.g. 'cafÃ©' -> 'café'.")
    remove_control: bool = Field(default=True, description="Remove control and zero-width characters.")
    collapse_spaces: bool = Field(
        default=True,
        description="Runs of spaces and tabs inside a line become one space; a line's indentation is kept.",
    )
    max_blank_lines: int = Field(default=1, ge=0, description="Blank lines kept in a row (paragraph breaks).")


def fix_mojibake(text: pl.Series) -> pl.Series:
    suspect = text.str.contains(MOJIBAKE)
    if not suspect.any():
        return text
    fixed = [ftfy.fix_encoding(t) if s else t for t, s in zip(text, suspect, strict=True)]
    return pl.Series(text.name, fixed, dtype=pl.String)


def normalize_text(shard: pl.DataFrame, cfg: NormalizeConfig) -> StepResult:
    if cfg.fix_mojibake and shard.height:
        shard = shard.with_columns(fix_mojibake(shard["text"]))
    text = pl.col("text").str.normalize(cfg.unicode_form).str.replace_all(r"\r\n?", "\n")
    text = text.str.replace_all("\x0c", "\n\n")  # form feed: a PDF page break becomes a paragraph break
    if cfg.remove_control:
        text = text.str.replace_all(INVISIBLE, "")
    text = text.str.replace_all(r"[\u00a0\u2000-\u200a\u202f\u205f\u3000]", " ")  # exotic spaces
    text = text.str.replace_all(r"(?m)[ \t]+$", "")  # trailing blanks; whitespace-only lines become blank
    if cfg.collapse_spaces:
        # Inside a line only: the indentation at its start is the structure of code, YAML and lists.
        text = text.str.replace_all(r"([^ \t\n])[ \t]+", "${1} ")
    text = text.str.replace_all(r"\n{" + str(cfg.max_blank_lines + 2) + ",}", "\n" * (cfg.max_blank_lines + 1))
    changed = shard.with_columns(text.str.strip_chars().alias("text"))
    return StepResult(kept=changed)

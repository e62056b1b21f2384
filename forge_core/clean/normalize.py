"""Unicode and whitespace normalization, vectorized over a shard with polars."""

from __future__ import annotations

import polars as pl

from forge_core.config import CleanConfig
from forge_core.steps import StepResult

# C0/C1 control characters except tab and newline, plus zero-width characters and stray BOMs:
# invisible in an editor, yet they split words for the tokenizer and defeat exact dedup.
INVISIBLE = r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]"


def normalize_text(shard: pl.DataFrame, cfg: CleanConfig) -> StepResult:
    text = (
        pl.col("text")
        .str.normalize(cfg.unicode_form)
        .str.replace_all(r"\r\n?", "\n")
        .str.replace_all("\x0c", "\n\n")  # form feed: a page break
        .str.replace_all(INVISIBLE, "")
        .str.replace_all(r"[\u00a0\u2000-\u200a\u202f\u205f\u3000]", " ")  # exotic spaces
        .str.replace_all(r"[ \t]+", " ")
        .str.replace_all(r"(?m)^ +| +$", "")
        .str.replace_all(r"\n{3,}", "\n\n")
        .str.strip_chars()
    )
    return StepResult(kept=shard.with_columns(text=text))

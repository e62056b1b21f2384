"""Numeric dumps: tables of numbers with hardly a word among them (exported measurements, CSV of
floats). A report with figures in its sentences is genuine."""

from __future__ import annotations

import polars as pl
from pydantic import Field

from forge_core.section import Section
from forge_core.steps import StepResult, apply_rules

REASONS = {"numeric_dump": "mostly digits, hardly any letters"}


class NumericConfig(Section):
    """Numeric dumps: mostly digits and separators, hardly any letters."""

    NUMBERS = (
        "min_digit_share 0.45, max_letter_share 0.2: labelled set: genuine documents at most 0.21 digits (99th "
        "percentile 0.15) and at least 0.34 letters; numeric dumps at least 0.43 digits, letters 0.08 median. "
        "min_chars 40: a choice (a figure in a sentence is not a dump)."
    )

    enabled: bool | None = Field(default=None, description="true or false; empty: as clean.profile says.")
    min_chars: int = Field(default=40, ge=1, description="Documents with fewer non-space characters are not judged.")
    min_digit_share: float = Field(
        default=0.45, ge=0.0, le=1.0, description="Share of non-space characters that are digits, at least ..."
    )
    max_letter_share: float = Field(
        default=0.2, ge=0.0, le=1.0, description="... with letters at most this share: then it is a dump."
    )


def numeric_filter(shard: pl.DataFrame, cfg: NumericConfig) -> StepResult:
    if shard.is_empty():
        return StepResult(kept=shard)
    text = pl.col("text")
    m = shard.select(
        chars=text.str.count_matches(r"\S"),
        digits=text.str.count_matches(r"\p{Nd}"),
        letters=text.str.count_matches(r"\p{L}"),
    )
    chars = m["chars"].clip(lower_bound=1)
    fails = (
        (m["chars"] >= cfg.min_chars)
        & (m["digits"] / chars >= cfg.min_digit_share)
        & (m["letters"] / chars <= cfg.max_letter_share)
    )
    detail = f"digits >= {cfg.min_digit_share} and letters <= {cfg.max_letter_share} of the characters"
    return apply_rules(shard, [("numeric_dump", fails, detail)])

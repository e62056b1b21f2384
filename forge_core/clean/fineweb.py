"""The FineWeb rules (Penedo et al. 2024), vectorized over the shard: too few lines ending in
punctuation, too many short lines, too many characters in repeated lines, too many newlines per
word (lists and menus rather than prose)."""

from __future__ import annotations

import polars as pl
from pydantic import Field

from forge_core.clean.gopher import ENABLED, WORD, in_scope
from forge_core.section import Section
from forge_core.steps import StepResult, apply_rules

TERMINAL = r"[.?!\"'”’)\]]$"

REASONS = {
    "fineweb_empty": "no non-empty line",
    "fineweb_line_punctuation": "too few lines end in punctuation",
    "fineweb_short_lines": "too many short lines (menus, lists)",
    "fineweb_duplicate_line_chars": "too many characters in repeated lines",
    "fineweb_list_like": "too many newlines per word",
}


class FineWebConfig(Section):
    """FineWeb rules (Penedo et al. 2024): line punctuation, short lines, duplicated lines, newlines.

    Lines ending in punctuation, short lines, characters in repeated lines, newlines per word.
    """

    NUMBERS = "Penedo et al. 2024 (FineWeb), datatrove's FineWebQualityFilter defaults."

    enabled: bool | None = Field(default=None, description=ENABLED)
    line_punct_thr: float = Field(
        default=0.12, ge=0.0, le=1.0, description="Share of lines ending in punctuation, at least."
    )
    short_line_thr: float = Field(default=0.67, ge=0.0, le=1.0, description="Share of short lines, at most.")
    short_line_length: int = Field(default=30, gt=0, description="A line shorter than this many characters is short.")
    char_duplicates_ratio: float = Field(
        default=0.01, ge=0.0, le=1.0, description="Share of characters in repeated lines."
    )
    new_line_ratio: float = Field(default=0.3, ge=0.0, le=1.0, description="Newlines per word, at most.")


def fineweb_filter(shard: pl.DataFrame, cfg: FineWebConfig, languages: list[str]) -> StepResult:
    if shard.is_empty():
        return StepResult(kept=shard)
    text = pl.col("text")
    lines = text.str.split("\n").list.eval(pl.element().filter(pl.element().str.strip_chars() != ""))
    m = shard.select(
        n_lines=lines.list.len(),
        punct=lines.list.eval(pl.element().str.strip_chars_end().str.contains(TERMINAL)).list.sum(),
        short=lines.list.eval(pl.element().str.len_chars() <= cfg.short_line_length).list.sum(),
        dup_chars=lines.list.eval(
            pl.when(pl.element().is_first_distinct()).then(0).otherwise(pl.element().str.len_chars())
        ).list.sum(),
        chars=text.str.replace_all("\n", "").str.len_chars(),
        newlines=text.str.count_matches("\n"),
        words=text.str.count_matches(WORD),
    )
    n_lines = m["n_lines"].clip(lower_bound=1)
    rules = [
        ("fineweb_empty", m["n_lines"] == 0, "no non-empty line"),
        (
            "fineweb_line_punctuation",
            m["punct"] / n_lines < cfg.line_punct_thr,
            f"share of lines ending in punctuation < {cfg.line_punct_thr}",
        ),
        (
            "fineweb_short_lines",
            m["short"] / n_lines > cfg.short_line_thr,
            f"share of lines of <= {cfg.short_line_length} characters > {cfg.short_line_thr}",
        ),
        (
            "fineweb_duplicate_line_chars",
            m["dup_chars"] / m["chars"].clip(lower_bound=1) > cfg.char_duplicates_ratio,
            f"share of characters in repeated lines > {cfg.char_duplicates_ratio}",
        ),
        (
            "fineweb_list_like",
            m["newlines"] / m["words"].clip(lower_bound=1) > cfg.new_line_ratio,
            f"newlines per word > {cfg.new_line_ratio}",
        ),
    ]
    return apply_rules(shard, rules, in_scope(shard, languages))

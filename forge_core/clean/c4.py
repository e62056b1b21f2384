"""The C4 rules (Raffel et al. 2020, section 2.2), as datatrove's C4QualityFilter applies them.

Line rules remove lines (javascript notices, cookie and policy lines, lines of too few words or
with an absurdly long word, and optionally lines without end punctuation); document rules drop
documents (lorem ipsum, curly brackets, too few sentences left). One deliberate difference:
blank lines between paragraphs are kept, so the paragraph structure survives for training.
"""

from __future__ import annotations

import re

import polars as pl
from pydantic import Field

from forge_core.clean.gopher import ENABLED, in_scope
from forge_core.section import Section
from forge_core.steps import StepResult, drops

END_PUNCTUATION = (".", "?", "!", '"', "'", "”", "’")
ELLIPSIS = ("...", "…")
POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
SENTENCE_END = re.compile(r"[.!?…]+(?=\s|$)")

REASONS = {
    "c4_lorem_ipsum": "placeholder text ('lorem ipsum')",
    "c4_curly_bracket": "contains '{' (code or templates)",
    "c4_too_few_sentences": "fewer than min_num_sentences sentences left after the line rules",
}


class C4Config(Section):
    """C4 rules (Raffel et al. 2020), with the FineWeb recipe's choice of keeping lines without end punctuation.

    Removes javascript notices, cookie and policy lines, too-short lines and citation marks (keeping
    paragraph breaks); drops lorem ipsum, curly brackets, and documents left with too few sentences.
    """

    NUMBERS = "Raffel et al. 2020 (C4), as datatrove's FineWeb recipe sets them."

    enabled: bool | None = Field(default=None, description=ENABLED)
    filter_no_terminal_punct: bool = Field(default=False, description="Remove lines not ending in . ! ? or a quote.")
    min_words_per_line: int = Field(default=3, ge=0, description="Remove lines with fewer words.")
    max_word_length: int = Field(default=1000, gt=0, description="Remove lines with a longer word.")
    min_num_sentences: int = Field(default=5, ge=0, description="Fewer sentences left: c4_too_few_sentences.")
    remove_citations: bool = Field(default=True, description="Remove Wikipedia-style citation marks like [1].")
    filter_lorem_ipsum: bool = Field(default=True, description="Drop documents containing 'lorem ipsum'.")
    filter_javascript: bool = Field(default=True, description="Remove lines that mention javascript.")
    filter_curly_bracket: bool = Field(default=True, description="Drop documents containing '{' (code, templates).")
    filter_policy: bool = Field(default=True, description="Remove cookie, terms-of-use and privacy-policy lines.")


def c4_document(text: str, cfg: C4Config) -> tuple[str | None, str | None]:
    """(cleaned text, None) for a kept document, (None, reason) for a dropped one."""
    kept: list[str] = []
    sentences = 0
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            if kept and kept[-1] != "":
                kept.append("")  # a paragraph break
            continue
        lower = line.lower()
        if cfg.filter_lorem_ipsum and "lorem ipsum" in lower:
            return None, "c4_lorem_ipsum"
        if cfg.filter_curly_bracket and "{" in line:
            return None, "c4_curly_bracket"
        words = line.split()
        if any(len(w) > cfg.max_word_length for w in words):
            continue
        if cfg.filter_no_terminal_punct and (not line.endswith(END_PUNCTUATION) or line.endswith(ELLIPSIS)):
            continue
        if len(words) < cfg.min_words_per_line:
            continue
        if cfg.filter_javascript and "javascript" in lower:
            continue
        if cfg.filter_policy and any(p in lower for p in POLICY):
            continue
        if cfg.remove_citations:
            line = CITATION.sub("", line)
        sentences += max(1, len(SENTENCE_END.findall(line)))
        kept.append(line)
    if sentences < cfg.min_num_sentences:
        return None, "c4_too_few_sentences"
    return "\n".join(kept).strip(), None


def c4_filter(shard: pl.DataFrame, cfg: C4Config, languages: list[str]) -> StepResult:
    if shard.is_empty():
        return StepResult(kept=shard)
    scope = in_scope(shard, languages)
    results = [c4_document(t, cfg) if judged else (t, None) for t, judged in zip(shard["text"], scope, strict=True)]
    texts = pl.Series("text", [t for t, _ in results], dtype=pl.String)
    reasons = pl.Series("reason", [r for _, r in results], dtype=pl.String)
    shard = shard.with_columns(text=texts.fill_null(shard["text"]), _reason=reasons)
    changed = int((texts.is_not_null() & (texts != shard["text"])).sum())
    dropped = [
        drops(shard.filter(pl.col("_reason") == r), r, pl.lit(f"see clean.c4 ({r.removeprefix('c4_')})"))
        for r in reasons.drop_nulls().unique().sort()
    ]
    kept = shard.filter(pl.col("_reason").is_null()).drop("_reason")
    return StepResult(
        kept=kept, dropped=pl.concat(dropped) if dropped else None, counts={"lines_changed_docs": changed}
    )

"""Language identification with py3langid, whose model ships inside the package (no download).

Every document gets a language code and a probability; an optional allow-list drops the others.
Only the first thousand characters are read: the language of a document is clear long before
its end, and the cost of identification grows with length.
"""

from __future__ import annotations

from functools import cache

import polars as pl
from pydantic import Field

from forge_core.section import Section
from forge_core.steps import StepResult, drops

SAMPLE_CHARS = 1000

REASONS = {"language_not_allowed": "not a language of clean.language.allow, or identified with too little confidence"}


class LanguageConfig(Section):
    """Language identification (py3langid: its model ships inside the package).

    Every document gets an ISO 639-1 code and a probability, kept in the shards and the ledger;
    `allow` keeps only those languages.
    """

    NUMBERS = (
        "min_score 0.0: a choice (py3langid's probabilities are not comparable across languages, and short "
        "documents score low in any language: a floor is for a user who knows their corpus)."
    )

    enabled: bool = Field(default=True, description="Label every document with its language and score.")
    allow: list[str] = Field(
        default=[], description="ISO 639-1 codes to keep (e.g. [en, de]); empty keeps every language."
    )
    min_score: float = Field(
        default=0.0, ge=0.0, le=1.0, description="With an allow-list: a document scoring below this is dropped too."
    )


@cache
def identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def identify(texts: pl.Series) -> tuple[list[str | None], list[float | None]]:
    ident = identifier()
    languages: list[str | None] = []
    scores: list[float | None] = []
    for text in texts:
        if not text or not text.strip():
            languages.append(None)
            scores.append(None)
            continue
        code, score = ident.classify(text[:SAMPLE_CHARS])
        languages.append(code)
        scores.append(round(float(score), 4))
    return languages, scores


def identify_language(shard: pl.DataFrame, cfg: LanguageConfig) -> StepResult:
    if not cfg.enabled:
        return StepResult(
            kept=shard.with_columns(language=pl.lit(None, pl.String), language_score=pl.lit(None, pl.Float64))
        )
    languages, scores = identify(shard["text"])
    shard = shard.with_columns(
        language=pl.Series(languages, dtype=pl.String), language_score=pl.Series(scores, dtype=pl.Float64)
    )
    counts = {code: n for code, n in shard.group_by("language").len().iter_rows() if code}
    if not cfg.allow:
        return StepResult(kept=shard, counts=counts)
    keep = pl.col("language").is_in(cfg.allow) & (pl.col("language_score") >= cfg.min_score)
    detail = pl.format(
        "{} ({}) not in clean.language.allow = {} with min_score {}",
        pl.col("language"), pl.col("language_score"), pl.lit(",".join(cfg.allow)), pl.lit(cfg.min_score),
    )  # fmt: skip
    out = shard.filter(~keep.fill_null(False))
    return StepResult(
        kept=shard.filter(keep.fill_null(False)), dropped=drops(out, "language_not_allowed", detail), counts=counts
    )

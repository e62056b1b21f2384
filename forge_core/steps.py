"""A stage is a list of small steps over one shard; each step says what it kept and dropped.

This is the datatrove idea in a few lines: a step is `fn(shard, cfg) -> StepResult`, and the
stage runner strings steps together, so adding a rule is one function and one line in a list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from forge_core.schema import ANNOTATION_COLUMNS, LEDGER_PART

LEDGER_COLUMNS = [f.name for f in LEDGER_PART]
LEDGER_DTYPES = dict(pl.from_arrow(LEDGER_PART.empty_table()).schema)


@dataclass
class StepResult:
    """What a step kept, what it dropped (as ledger rows), and anything else it counted."""

    kept: pl.DataFrame
    dropped: pl.DataFrame | None = None
    counts: dict[str, int] = field(default_factory=dict)


Step = Callable[[pl.DataFrame], StepResult]


@dataclass(frozen=True)
class Rule:
    """One entry of a stage's step list: the step's name (also its config key), the function, its
    config model, and the ledger reasons it records with what each means (the README's table of
    rules and the tests are generated from these, so they cannot drift from the code)."""

    name: str
    apply: Callable[..., StepResult]  # apply(shard, cfg) -> StepResult
    config: type | None
    reasons: dict[str, str]
    profiles: frozenset[str] = frozenset({"enterprise", "web", "none"})  # where it runs unless told otherwise
    web: bool = False  # tuned on English web text: judged only in the configured languages

    def runs(self, section: object, profile: str) -> bool:
        """A rule runs in its profiles; a section's `enabled: true|false` overrides the profile."""
        enabled = getattr(section, "enabled", None)
        return profile in self.profiles if enabled is None else bool(enabled)

    def doc(self) -> str:
        """The config's docstring as one line: what the step is for and what it does."""
        text = (self.config.__doc__ or "") if self.config is not None else (self.apply.__doc__ or "")
        return " ".join(text.split())


def drops(docs: pl.DataFrame, reason: str, detail: str | pl.Expr | None = None) -> pl.DataFrame:
    """Ledger rows (status dropped, stage filled in by the runner) for documents a step removes."""
    detail_expr = detail.cast(pl.String) if isinstance(detail, pl.Expr) else pl.lit(detail, dtype=pl.String)
    carried = {
        name: pl.col(name) if name in docs.columns else pl.lit(None, dtype=LEDGER_DTYPES[name])
        for name in ("similarity", "parent_doc_id", *ANNOTATION_COLUMNS)
    }
    return docs.select(
        "doc_id",
        "source_uri",
        "raw_sha256",
        "bytes",
        status=pl.lit("dropped"),
        stage=pl.lit(None, dtype=pl.String),
        reason=pl.lit(reason),
        detail=detail_expr,
        **carried,
    )


def empty_ledger() -> pl.DataFrame:
    return pl.DataFrame(schema=LEDGER_DTYPES)


@dataclass
class StageOutput:
    kept: pl.DataFrame
    ledger: pl.DataFrame
    counts: dict[str, int]


def _chars(shard: pl.DataFrame) -> int:
    return int(shard["text"].str.len_chars().sum() or 0) if "text" in shard.columns and shard.height else 0


def run_steps(shard: pl.DataFrame, steps: list[tuple[str, Step]], stage: str) -> StageOutput:
    """Apply steps in order; a document dropped by one step is not seen by the next."""
    dropped: list[pl.DataFrame] = []
    counts: dict[str, int] = {}
    for name, step in steps:
        counts[f"{name}.docs_in"] = counts.get(f"{name}.docs_in", 0) + shard.height
        counts[f"{name}.chars_in"] = counts.get(f"{name}.chars_in", 0) + _chars(shard)
        result = step(shard)
        shard = result.kept
        counts[f"{name}.docs_out"] = counts.get(f"{name}.docs_out", 0) + shard.height
        counts[f"{name}.chars_out"] = counts.get(f"{name}.chars_out", 0) + _chars(shard)
        if result.dropped is not None and result.dropped.height:
            dropped.append(result.dropped)
            for reason, n in result.dropped.group_by("reason").len().iter_rows():
                counts[f"dropped.{reason}"] = counts.get(f"dropped.{reason}", 0) + n
        for key, n in result.counts.items():
            counts[f"{name}.{key}"] = counts.get(f"{name}.{key}", 0) + n
    ledger = pl.concat(dropped) if dropped else empty_ledger()
    ledger = ledger.with_columns(stage=pl.lit(stage)).select(LEDGER_COLUMNS)
    return StageOutput(kept=shard, ledger=ledger, counts=counts)


def apply_rules(
    shard: pl.DataFrame, rules: list[tuple[str, pl.Series, str]], scope: pl.Series | None = None
) -> StepResult:
    """Drop each document for the first rule it fails, with that rule's reason (only within scope).

    rules: (reason, a boolean Series that is true where a document fails, the detail to record).
    """
    reason = pl.Series("reason", [None] * shard.height, dtype=pl.String)
    detail = pl.Series("detail", [None] * shard.height, dtype=pl.String)
    for name, fails, why in rules:
        hit = fails.fill_null(False) & reason.is_null()
        if scope is not None:
            hit = hit & scope
        reason = pl.select(pl.when(hit).then(pl.lit(name)).otherwise(reason)).to_series()
        detail = pl.select(pl.when(hit).then(pl.lit(why)).otherwise(detail)).to_series()
    failed = reason.is_not_null()
    out = shard.filter(failed).with_columns(_reason=reason.filter(failed), _detail=detail.filter(failed))
    dropped = [drops(out.filter(pl.col("_reason") == r), r, pl.col("_detail")) for r in out["_reason"].unique()]
    return StepResult(kept=shard.filter(~failed), dropped=pl.concat(dropped) if dropped else None)

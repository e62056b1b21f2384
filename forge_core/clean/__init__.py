"""Cleaning: the steps that turn extracted text into training text, in the order they run."""

from __future__ import annotations

import polars as pl

from forge_core.checkpoint import ShardReport
from forge_core.clean.c4 import c4_filter
from forge_core.clean.filters import count_words, length_filter
from forge_core.clean.fineweb import fineweb_filter
from forge_core.clean.gopher import gopher_quality, gopher_repetition
from forge_core.clean.language import identify_language
from forge_core.clean.normalize import normalize_text
from forge_core.clean.pii import redact_pii
from forge_core.config import CleanConfig
from forge_core.io.shards import read_shard, write_shard
from forge_core.io.workspace import Workspace
from forge_core.schema import ANNOTATION_COLUMNS, CLEANED, LEDGER_PART
from forge_core.steps import LEDGER_DTYPES, StageOutput, Step, run_steps

STAGE = "clean"


def clean_steps(cfg: CleanConfig) -> list[tuple[str, Step]]:
    """The cleaning pipeline. Order matters: language before the English-only stop-word rule,
    PII before counting words (placeholders count), C4 (which edits lines) before FineWeb's line
    statistics, and the FineWeb recipe's order for the quality rules."""
    return [
        ("normalize", lambda s: normalize_text(s, cfg.normalize)),
        ("language", lambda s: identify_language(s, cfg.language)),
        ("pii", lambda s: redact_pii(s, cfg.pii)),
        ("length", lambda s: length_filter(s, cfg.length)),
        ("gopher_repetition", lambda s: gopher_repetition(s, cfg.gopher_repetition, cfg.quality_languages)),
        ("gopher_quality", lambda s: gopher_quality(s, cfg.gopher_quality, cfg.quality_languages)),
        ("c4", lambda s: c4_filter(s, cfg.c4, cfg.quality_languages)),
        ("fineweb", lambda s: fineweb_filter(s, cfg.fineweb, cfg.quality_languages)),
        ("recount", count_words),
    ]


def clean_frame(shard: pl.DataFrame, cfg: CleanConfig) -> StageOutput:
    """The whole cleaning chain over one in-memory shard (what clean_shard runs, without the I/O)."""
    out = run_steps(shard, clean_steps(cfg), stage=STAGE)
    missing = [c for c in ANNOTATION_COLUMNS if c not in out.kept.columns]  # a step switched off
    out.kept = out.kept.with_columns(pl.lit(None, LEDGER_DTYPES[c]).alias(c) for c in missing)
    return out


def clean_shard(ws: Workspace, source: str, cfg: CleanConfig, report: ShardReport) -> None:
    shard = read_shard(ws, source)
    out = clean_frame(shard, cfg)
    write_shard(ws, report.docs_path, out.kept, CLEANED)
    write_shard(ws, report.ledger_path, out.ledger, LEDGER_PART)
    report.n_in = shard.height
    report.n_kept = out.kept.height
    report.counts.update(out.counts)

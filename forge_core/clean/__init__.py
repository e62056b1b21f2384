"""Cleaning: the steps that turn extracted text into training text, in the order they run."""

from __future__ import annotations

from forge_core.checkpoint import ShardReport
from forge_core.clean.filters import min_length
from forge_core.clean.normalize import normalize_text
from forge_core.clean.pii import redact_pii
from forge_core.config import CleanConfig
from forge_core.io.shards import read_shard, write_shard
from forge_core.io.workspace import Workspace
from forge_core.schema import CLEANED, LEDGER_PART
from forge_core.steps import Step, run_steps

STAGE = "clean"


def clean_steps(cfg: CleanConfig) -> list[tuple[str, Step]]:
    """The cleaning pipeline. Order matters: redact before counting words, so placeholders count."""
    return [
        ("normalize", lambda s: normalize_text(s, cfg)),
        ("pii", lambda s: redact_pii(s, cfg.pii)),
        ("min_length", lambda s: min_length(s, cfg)),
    ]


def clean_shard(ws: Workspace, source: str, cfg: CleanConfig, report: ShardReport) -> None:
    shard = read_shard(ws, source)
    out = run_steps(shard, clean_steps(cfg), stage=STAGE)
    write_shard(ws, report.docs_path, out.kept, CLEANED)
    write_shard(ws, report.ledger_path, out.ledger, LEDGER_PART)
    report.n_in = shard.height
    report.n_kept = out.kept.height
    report.counts.update(out.counts)

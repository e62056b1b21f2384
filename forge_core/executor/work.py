"""Finished shard work is recorded, so a rerun after a crash picks up where the last one stopped.

Each unit of shard work writes its outputs into a folder named by a content key (its inputs,
settings and code version), then writes report.json last. A folder with a report is finished;
one without is a crash's leftover and is simply redone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from forge_core.io.workspace import Workspace


def docs_file(folder: str) -> str:
    """Where a shard's kept documents go inside its work folder."""
    return f"{folder}/docs.parquet"


def ledger_file(folder: str) -> str:
    """Where a shard's ledger rows (dropped and quarantined documents) go inside its work folder."""
    return f"{folder}/ledger.parquet"


@dataclass
class ShardCounts:
    """What a stage function returns for one shard: documents in, kept, and anything it counted."""

    n_in: int
    n_kept: int
    counts: dict[str, int] = field(default_factory=dict)  # e.g. dropped.too_short, quarantined.unreadable_pdf


@dataclass
class ShardReport:
    """What one shard of one stage took in, kept and dropped, and where it wrote the results."""

    stage: str
    index: int
    folder: str
    n_in: int = 0
    n_kept: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    reused: bool = False

    @property
    def docs_path(self) -> str:
        return docs_file(self.folder)

    @property
    def ledger_path(self) -> str:
        return ledger_file(self.folder)


def run_once(ws: Workspace, stage: str, index: int, folder: str, work: Callable[[str], ShardCounts]) -> ShardReport:
    """work(folder) unless the folder already holds a finished report; time it and record it."""
    marker = f"{folder}/report.json"
    if ws.exists(marker):
        done = ShardReport(**ws.read_json(marker))
        done.reused = True
        return done
    start = time.perf_counter()
    counts = work(folder)
    report = ShardReport(stage, index, folder, counts.n_in, counts.n_kept, dict(counts.counts))
    report.seconds = round(time.perf_counter() - start, 3)
    ws.write_json(marker, asdict(report))
    return report


@dataclass(frozen=True)
class ShardJob:
    """One unit of shard work as it travels to a Dask worker: fn(ws, folder, *args), once."""

    ws: Workspace
    stage: str
    index: int
    folder: str
    fn: Callable[..., ShardCounts]
    args: tuple[Any, ...]

    def __call__(self) -> ShardReport:
        return run_once(
            self.ws, self.stage, self.index, self.folder, lambda folder: self.fn(self.ws, folder, *self.args)
        )


def run_job(job: ShardJob) -> ShardReport:
    return job()

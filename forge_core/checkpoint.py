"""Finished shard work is recorded, so a rerun after a crash picks up where the last one stopped.

Each unit of shard work writes its outputs into a folder named by a content key (its inputs,
settings and code version), then writes report.json last. A folder with a report is finished;
one without is a crash's leftover and is simply redone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from forge_core.io.workspace import Workspace


@dataclass
class ShardReport:
    """What one shard of one stage took in, kept and dropped, and where it wrote the results."""

    stage: str
    index: int
    folder: str
    n_in: int = 0
    n_kept: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # e.g. dropped.too_short, quarantined.unreadable_pdf
    seconds: float = 0.0
    reused: bool = False

    @property
    def docs_path(self) -> str:
        return f"{self.folder}/docs.parquet"

    @property
    def ledger_path(self) -> str:
        return f"{self.folder}/ledger.parquet"


def run_once(ws: Workspace, report: ShardReport, work: Callable[[ShardReport], None]) -> ShardReport:
    """Run `work` unless the folder already holds a finished report; time it and record it."""
    marker = f"{report.folder}/report.json"
    if ws.exists(marker):
        done = ShardReport(**ws.read_json(marker))
        done.reused = True
        return done
    start = time.perf_counter()
    work(report)
    report.seconds = round(time.perf_counter() - start, 3)
    ws.write_json(marker, asdict(report))
    return report


def run_shard(job: tuple[Workspace, ShardReport, Callable[..., None], tuple]) -> ShardReport:
    """One unit of shard work as Dask runs it: fn(ws, *args, report), once."""
    ws, report, fn, args = job
    return run_once(ws, report, lambda r: fn(ws, *args, r))

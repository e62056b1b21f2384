"""Where and how shard work runs: one function maps a stage over shards.

`map_stage` is the one way a stage runs: each shard's work goes into a folder named by a content
key (stage, code version, settings, the shard's inputs), finished folders are reused on a rerun,
and progress is reported as shards finish. What runs (a function over one shard, returning its
counts) is kept apart from where it runs (cluster.py: a LocalCluster or an existing cluster).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from forge_core.executor.cluster import DaskConfig, close_early, map_shards, open_cluster, start_early
from forge_core.executor.work import ShardCounts, ShardJob, ShardReport, docs_file, ledger_file, run_job, run_once
from forge_core.identity import code_version, digest
from forge_core.io.workspace import Workspace

__all__ = [
    "DaskConfig",
    "ShardCounts",
    "ShardInput",
    "ShardReport",
    "close_early",
    "content_folder",
    "docs_file",
    "ledger_file",
    "map_shards",
    "map_stage",
    "open_cluster",
    "run_once",
    "start_early",
]


@dataclass(frozen=True)
class ShardInput:
    """One shard of a stage's input: its number, what identifies its content, and fn's arguments.

    `key` must change whenever the shard's input changes (the files' sha256, or the content-keyed
    folder of the stage before), since it names the folder that a rerun reuses.
    """

    index: int
    key: Any
    args: tuple[Any, ...]


def content_folder(ws: Workspace, stage: str, settings: Any, key: Any) -> str:
    """The work folder of one shard: named by the stage, the code, its settings and its input."""
    return ws.cache_dir(stage, digest(stage, code_version(), settings, key))


def map_stage(
    client: Any,
    ws: Workspace,
    stage: str,
    fn: Callable[..., ShardCounts],
    shards: Sequence[ShardInput],
    settings: Any,
    *,
    folders: Sequence[str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    cost: Sequence[float] | None = None,
) -> list[ShardReport]:
    """fn(ws, folder, *shard.args) for every shard on the cluster, once; reports in shard order.

    Each shard writes into content_folder(...) unless `folders` names where (the dataset version's
    own files, e.g. its token files); a folder holding a finished report is reused as it is.
    cost: each shard's estimated work; the costliest start first (see map_shards).
    """
    if folders is not None and len(folders) != len(shards):
        raise ValueError(f"{stage}: {len(folders)} folders for {len(shards)} shards")
    jobs = [
        ShardJob(
            ws,
            stage,
            s.index,
            folders[i] if folders is not None else content_folder(ws, stage, settings, s.key),
            fn,
            s.args,
        )
        for i, s in enumerate(shards)
    ]
    return map_shards(client, run_job, jobs, desc=stage, on_progress=on_progress, cost=cost)

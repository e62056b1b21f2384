"""What each stage shows in the Prefect UI: a table of documents in, kept, dropped and why; its
progress while it runs; and the Dask cluster the shards are worked on."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prefect.artifacts import (
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from forge_core.executor import ShardReport
from forge_core.report import step_table

STEP_MEASURES = ("docs_in", "docs_out", "chars_in", "chars_out")


def stage_summary(stage: str, reports: list[ShardReport], seconds: float) -> dict[str, Any]:
    """Sum the shard reports of one stage into the numbers stats.json and the UI show."""
    counts: dict[str, int] = {}
    for r in reports:
        for key, n in r.counts.items():
            counts[key] = counts.get(key, 0) + n
    return {
        "stage": stage,
        "shards": len(reports),
        "shards_reused": sum(r.reused for r in reports),
        "documents_in": sum(r.n_in for r in reports),
        "documents_kept": sum(r.n_kept for r in reports),
        "counts": dict(sorted(counts.items())),
        "seconds": round(seconds, 3),
    }


def publish_stage(summary: dict[str, Any], description: str) -> None:
    rows = [
        {"measure": "documents in" if summary["stage"] != "ingest" else "files in", "value": summary["documents_in"]},
        {"measure": "documents kept", "value": summary["documents_kept"]},
    ]
    steps = step_table(summary["counts"])
    for key, n in summary["counts"].items():
        if key.rpartition(".")[2] in STEP_MEASURES:
            continue  # shown per step below
        status, _, reason = key.partition(".")
        if status in ("dropped", "quarantined") and reason:
            rows.append({"measure": f"{status}: {reason}", "value": n})
        else:
            rows.append({"measure": key, "value": n})
    rows += [
        {"measure": "shards (reused)", "value": f"{summary['shards']} ({summary['shards_reused']})"},
        {"measure": "seconds", "value": summary["seconds"]},
    ]
    create_table_artifact(key=f"{summary['stage']}-counts", table=rows, description=description)
    if steps:
        create_table_artifact(
            key=f"{summary['stage']}-steps",
            table=[{k: f"{v:,}" if isinstance(v, int) else v for k, v in row.items()} for row in steps],
            description=f"{summary['stage']}: documents and characters in and out of each step, in order.",
        )


def shard_progress(stage: str, every_s: float = 2.0) -> Callable[[int, int], None]:
    """A progress artifact for a stage's shards, updated at most every `every_s` and at the end."""
    artifact_id = create_progress_artifact(progress=0.0, key=f"{stage}-progress", description=f"{stage}: shards done")
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= every_s:
            update_progress_artifact(artifact_id, progress=100.0 * done / total, description=f"{stage}: {done}/{total}")
            last[0] = now

    return report


def describe_cluster(client: Any) -> None:
    """What the shards ran on, as facts that stay true after the run: workers, threads, memory.

    No link to the Dask dashboard: the run's LocalCluster, and its dashboard, are gone when the
    run ends, which is when most people open the page; a repr of the client is no help either.
    """
    info = client.scheduler_info()
    workers = info.get("workers", {}).values()
    n_workers = info.get("n_workers", len(workers))
    threads = info.get("total_threads", sum(w.get("nthreads", 0) for w in workers))
    memory = info.get("total_memory", sum(w.get("memory_limit", 0) or 0 for w in workers))
    rows = [
        {"measure": "workers", "value": n_workers},
        {"measure": "threads", "value": threads},
        {"measure": "memory (GiB)", "value": round(memory / 2**30, 1) if memory else "no limit"},
        {"measure": "scheduler", "value": info.get("address", "")},
    ]
    create_table_artifact(key="dask-cluster", table=rows, description="The Dask cluster the shards were worked on.")

"""What each stage shows in the Prefect UI: a table of documents in, kept, dropped and why."""

from __future__ import annotations

from typing import Any

from prefect.artifacts import create_table_artifact

from forge_core.checkpoint import ShardReport
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

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from forge_core.config import ForgeConfig
from forge_core.executor import ShardReport
from forge_core.io.workspace import Workspace
from forge_core.publish import publish_dataset
from forge_core.report import summary_markdown
from forge_core.timing import Phases


@task(name="publish-dataset", cache_policy=NO_CACHE)
def publish_dataset_version(
    ws: Workspace,
    cfg: ForgeConfig,
    dataset_id: str,
    sources: list[str],
    n_files: int,
    parts: dict[str, list[ShardReport]],
    stages: dict[str, dict],
    validation: dict[str, Any],
    phases: Phases | None = None,
) -> dict[str, Any]:
    """Write the ledger, stats, report and manifest of the version; show its report, its summary and
    where the run's time went."""
    phases = phases or Phases()
    with phases.timed("publish"):
        published = publish_dataset(ws, cfg, dataset_id, sources, n_files, parts, stages, validation, phases.seconds)
    create_table_artifact(
        key="curate-phases",
        table=[{"phase": name, "seconds": s} for name, s in phases.seconds.items()],
        description=f"{dataset_id}: wall seconds per phase of the curation",
    )
    create_markdown_artifact(key="dataset-report", markdown=published.report, description=dataset_id)
    create_markdown_artifact(
        key="dataset-summary", markdown=summary_markdown(published.manifest), description=dataset_id
    )
    return published.manifest

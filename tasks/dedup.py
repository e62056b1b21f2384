from __future__ import annotations

import posixpath
import time
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from forge_core.config import ForgeConfig
from forge_core.dedup.stage import STAGE, deduplicate
from forge_core.executor import ShardReport
from forge_core.io.workspace import Workspace
from forge_core.report import duplicate_clusters_markdown
from forge_core.validate import gate_for
from tasks.artifacts import publish_stage, stage_summary


@task(name="deduplicate-documents", cache_policy=NO_CACHE)
def deduplicate_documents(
    ws: Workspace, cfg: ForgeConfig, client: Any, cleaned: list[ShardReport], dataset_id: str
) -> tuple[list[ShardReport], ShardReport, dict]:
    """Signatures per shard, one plan over the whole dataset, then each shard's survivors."""
    start = time.perf_counter()
    result = deduplicate(
        ws,
        client,
        [r.docs_path for r in cleaned],
        cfg.dedup,
        f"{ws.dataset_dir(dataset_id)}/work/dedup",
        [ws.dataset_shard(dataset_id, r.index) for r in cleaned],
        numbers=[r.index for r in cleaned],
        keys=[posixpath.basename(r.folder) for r in cleaned],  # the cleaned shards' content-keyed names
        gate=gate_for(cfg.validation, "deduplicated") if cfg.validation.enabled else None,
    )
    summary = stage_summary(STAGE, result.applied, time.perf_counter() - start)
    summary["counts"] = {k: v for k, v in summary["counts"].items() if k != "dropped"} | result.counts
    summary["clusters"] = result.clusters
    summary["step_seconds"] = result.seconds
    publish_stage(summary, "Exact duplicates (normalized text hash) and near duplicates (MinHash LSH) removed.")
    create_markdown_artifact(
        key="dedup-clusters",
        markdown=duplicate_clusters_markdown(result.clusters),
        description="Duplicate clusters: how many, their sizes, and the largest with sample sources.",
    )
    return result.applied, result.plan, summary

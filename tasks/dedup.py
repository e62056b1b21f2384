from __future__ import annotations

import posixpath
import time
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from forge_core.checkpoint import ShardReport, run_shard
from forge_core.cluster import map_shards
from forge_core.config import ForgeConfig
from forge_core.dedup import STAGE, apply_dedup, index_path, plan_dedup, sign_shard
from forge_core.identity import code_version, digest
from forge_core.io.workspace import Workspace
from tasks.artifacts import publish_stage, stage_summary


@task(name="deduplicate-documents", cache_policy=NO_CACHE)
def deduplicate_documents(
    ws: Workspace, cfg: ForgeConfig, client: Any, cleaned: list[ShardReport], dataset_id: str
) -> tuple[list[ShardReport], ShardReport, dict]:
    """Signatures per shard, one plan over the whole dataset, then each shard's survivors."""
    start = time.perf_counter()
    settings = cfg.dedup.model_dump()
    sign_jobs = []
    for r in cleaned:
        key = digest("sign", code_version(), settings, posixpath.basename(r.folder))
        sign_jobs.append(
            (ws, ShardReport("sign", r.index, ws.cache_dir("sign", key)), sign_shard, (r.docs_path, cfg.dedup))
        )
    signed = map_shards(client, run_shard, sign_jobs, desc="minhash")

    indexes = [index_path(r) for r in signed]
    plan_key = digest("plan", code_version(), settings, [posixpath.basename(r.folder) for r in signed])
    plan_job = (ws, ShardReport(STAGE, 0, ws.cache_dir("dedup-plan", plan_key)), plan_dedup, (indexes, cfg.dedup))
    [plan] = map_shards(client, run_shard, [plan_job], desc="dedup plan")

    work = f"{ws.dataset_dir(dataset_id)}/work/dedup"
    apply_jobs = [
        (
            ws,
            ShardReport(STAGE, c.index, f"{work}/{c.index:05d}"),
            apply_dedup,
            (c.docs_path, index_path(s), plan.ledger_path, ws.dataset_shard(dataset_id, c.index)),
        )
        for c, s in zip(cleaned, signed, strict=True)
    ]
    applied = map_shards(client, run_shard, apply_jobs, desc="dedup")

    summary = stage_summary(STAGE, applied, time.perf_counter() - start)
    summary["counts"] = {k: v for k, v in summary["counts"].items() if k != "dropped"} | plan.counts
    publish_stage(summary, "Exact duplicates (normalized text hash) and near duplicates (MinHash LSH) removed.")
    return applied, plan, summary

from __future__ import annotations

import time
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from forge_core.config import ForgeConfig
from forge_core.executor import ShardInput, ShardReport, map_stage
from forge_core.ingest import STAGE, ingest_shard, shard_cost
from forge_core.io.sources import Fingerprint, plan_shards
from forge_core.io.workspace import Workspace
from forge_core.readers.limits import close_kept
from forge_core.validate import gate_for
from tasks.artifacts import publish_stage, shard_progress, stage_summary


@task(name="ingest-documents", cache_policy=NO_CACHE)
def ingest_documents(
    ws: Workspace, cfg: ForgeConfig, client: Any, prints: list[Fingerprint]
) -> tuple[list[ShardReport], dict]:
    start = time.perf_counter()
    gate = gate_for(cfg.validation, "ingested") if cfg.validation.enabled else None
    shards = plan_shards(prints, [p.size for p in prints], cfg.ingest.shard_max_files, cfg.ingest.shard_max_bytes)
    # keep_helper: each worker's reading helper serves its next shard too, and is stopped below.
    inputs = [
        ShardInput(i, [(p.uri, p.raw_sha256) for p in shard], (shard, cfg.ingest, gate, True))
        for i, shard in enumerate(shards)
    ]
    try:
        reports = map_stage(
            client,
            ws,
            STAGE,
            ingest_shard,
            inputs,
            cfg.ingest.model_dump(),
            on_progress=shard_progress(STAGE),
            cost=[shard_cost(shard) for shard in shards],
        )
    finally:
        client.run(close_kept, on_error="ignore")
    summary = stage_summary(STAGE, reports, time.perf_counter() - start)
    publish_stage(summary, "Source files read into documents; unreadable files quarantined with their reason.")
    return reports, summary

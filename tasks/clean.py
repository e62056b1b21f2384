from __future__ import annotations

import posixpath
import time
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from forge_core.checkpoint import ShardReport, run_shard
from forge_core.clean import STAGE, clean_shard
from forge_core.cluster import map_shards
from forge_core.config import ForgeConfig
from forge_core.identity import code_version, digest
from forge_core.io.workspace import Workspace
from tasks.artifacts import publish_stage, shard_progress, stage_summary


@task(name="clean-documents", cache_policy=NO_CACHE)
def clean_documents(
    ws: Workspace, cfg: ForgeConfig, client: Any, ingested: list[ShardReport]
) -> tuple[list[ShardReport], dict]:
    start = time.perf_counter()
    jobs = []
    for r in ingested:
        key = digest(STAGE, code_version(), cfg.clean.model_dump(), posixpath.basename(r.folder))
        jobs.append((ws, ShardReport(STAGE, r.index, ws.cache_dir(STAGE, key)), clean_shard, (r.docs_path, cfg.clean)))
    reports = map_shards(client, run_shard, jobs, desc="clean", on_progress=shard_progress("clean"))
    summary = stage_summary(STAGE, reports, time.perf_counter() - start)
    publish_stage(
        summary,
        "Normalized, language identified, PII redacted, then the length, Gopher, C4 and FineWeb rules; "
        "drops by reason, PII and languages found.",
    )
    return reports, summary

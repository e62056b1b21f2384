from __future__ import annotations

import posixpath
import time
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from forge_core.clean.pipeline import STAGE, clean_shard, describe
from forge_core.config import ForgeConfig
from forge_core.executor import ShardInput, ShardReport, map_stage
from forge_core.io.workspace import Workspace
from forge_core.validate import gate_for
from tasks.artifacts import publish_stage, shard_progress, stage_summary


@task(name="clean-documents", cache_policy=NO_CACHE)
def clean_documents(
    ws: Workspace, cfg: ForgeConfig, client: Any, ingested: list[ShardReport]
) -> tuple[list[ShardReport], dict]:
    start = time.perf_counter()
    # An ingested shard's folder is named by its content, so its name is the clean shard's input key.
    gate = gate_for(cfg.validation, "cleaned", cfg.clean.pii) if cfg.validation.enabled else None
    inputs = [ShardInput(r.index, posixpath.basename(r.folder), (r.docs_path, cfg.clean, gate)) for r in ingested]
    reports = map_stage(
        client, ws, STAGE, clean_shard, inputs, cfg.clean.model_dump(), on_progress=shard_progress(STAGE)
    )
    summary = stage_summary(STAGE, reports, time.perf_counter() - start)
    publish_stage(summary, describe())
    return reports, summary

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from forge_core.clean.pii import PiiConfig
from forge_core.executor import map_shards
from forge_core.gate_columns import GateColumns, backfill
from forge_core.io.workspace import Workspace
from forge_core.validate import GateShard, ValidationConfig, ValidationFailed, gate_for, validate_stage


def _backfill(job: tuple[Workspace, GateShard, GateColumns]) -> str:
    ws, shard, gate = job
    return backfill(ws, shard.folder, shard.docs_path, gate)


@task(name="validate-documents", cache_policy=NO_CACHE)
def validate_documents(
    ws: Workspace,
    client: Any,
    stage: str,
    shards: list[GateShard],
    cfg: ValidationConfig,
    dataset_id: str,
    pii: PiiConfig | None = None,
) -> dict | None:
    """Gate: raise, and so fail the flow, when the stage breaks its suite. Not retried: data
    that failed once fails again. With `pii`, the cleaned stage is also checked for residual PII.

    The stage's workers wrote the columns the suite checks beside each shard; shards reused from a
    run with another suite get theirs here, on the cluster, before the gate reads them."""
    if not cfg.enabled:
        return None
    gate = gate_for(cfg, stage, pii)
    missing = [(ws, s, gate) for s in shards if s.rows and not ws.exists(gate.file(s.folder))]
    map_shards(client, _backfill, missing, desc=f"gate {stage}")
    out = f"{ws.dataset_dir(dataset_id)}/validation/{stage}.json"
    try:
        summary = validate_stage(ws, stage, shards, cfg, out, pii=pii)
    except ValidationFailed as e:
        create_markdown_artifact(key=f"validation-{stage}", markdown=f"## {stage}: FAILED\n\n```\n{e}\n```")
        raise
    lines = [f"## {stage}: passed ({summary['view']})", "", "| expectation | column | result |", "| --- | --- | --- |"]
    for check in summary["checks"]:
        outcome = "ok" if check["success"] else "FAILED"
        lines.append(f"| {check['expectation']} | {check['kwargs'].get('column', '')} | {outcome} |")
    create_markdown_artifact(key=f"validation-{stage}", markdown="\n".join(lines))
    return summary

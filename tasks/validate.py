from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from forge_core.clean.pii import PiiConfig
from forge_core.io.workspace import Workspace
from forge_core.validate import ValidationConfig, ValidationFailed, validate_stage


@task(name="validate-documents", cache_policy=NO_CACHE)
def validate_documents(
    ws: Workspace,
    stage: str,
    shards: list[tuple[str, int]],
    cfg: ValidationConfig,
    dataset_id: str,
    pii: PiiConfig | None = None,
) -> dict | None:
    """Gate: raise, and so fail the flow, when the stage breaks its suite. Not retried: data
    that failed once fails again. With `pii`, the cleaned stage is also scanned for residual PII."""
    if not cfg.enabled:
        return None
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

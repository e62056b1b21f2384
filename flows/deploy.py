"""Deployments: Forge's flows on a schedule, run by a worker that polls a work pool.

A deployment names the flow by module path (`flows.curate.curate`), not by a file, so a worker on
any machine with Forge installed can run it: nothing is pulled, no image is built. The work pool
is of Prefect's `process` type: each flow run is a subprocess of `forge worker`.
"""

from __future__ import annotations

import contextlib
import datetime
from pathlib import Path
from typing import Any

from prefect import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.deployments.runner import EntrypointType
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.schedules import Cron, Interval

from forge_core.config import ForgeConfig

FLOWS = {"curate": "flows.curate:curate", "run": "flows.run:forge_run"}
POOL = "forge"


def flow_object(kind: str) -> Any:
    if kind == "curate":
        from flows.curate import curate

        return curate
    if kind == "run":
        from flows.run import forge_run

        return forge_run
    raise ValueError(f"unknown flow {kind!r}; choose one of {', '.join(FLOWS)}")


def ensure_pool(name: str) -> None:
    """The process work pool, created on first use (a no-op when it exists)."""
    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):  # another `forge schedule` got there first
                client.create_work_pool(WorkPoolCreate(name=name, type="process"))


def schedule(
    kind: str,
    sources: list[str],
    cfg: ForgeConfig,
    name: str,
    cron: str | None = None,
    interval: float | None = None,
    pool: str = POOL,
    timezone: str | None = None,
) -> dict[str, Any]:
    """Create, or update in place, the deployment `<flow>/<name>` with its parameters and schedule."""
    if (cron is None) == (interval is None):
        raise ValueError("give exactly one of --cron and --interval")
    missing = [s for s in sources if "://" not in s and not Path(s).exists()]
    if missing:
        raise ValueError(f"source not found: {', '.join(missing)}")
    # Absolute paths: the worker's working directory is not the caller's.
    sources = [s if "://" in s else str(Path(s).resolve()) for s in sources]
    config = cfg.model_dump(mode="json")
    if "://" not in config["workspace"]:
        config["workspace"] = str(Path(config["workspace"]).resolve())
    ensure_pool(pool)
    flow = flow_object(kind)
    when = (
        Cron(cron, timezone=timezone)
        if cron is not None
        else Interval(datetime.timedelta(seconds=interval), timezone=timezone)
    )
    deployment = flow.to_deployment(
        name=name,
        schedule=when,
        parameters={"sources": sources, "config": config},
        tags=["forge", kind],
        description=f"forge {kind} of {', '.join(sources)} into {config['workspace']}",
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    deployment_id = deployment.apply(work_pool_name=pool)
    return {
        "deployment_id": str(deployment_id),
        "deployment": f"{flow.name}/{name}",
        "work_pool": pool,
        "schedule": f"cron {cron}" if cron else f"every {interval:g} s",
        "sources": sources,
        "workspace": config["workspace"],
    }

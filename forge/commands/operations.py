"""Running Forge for a team: `forge schedule`, `forge worker`, `forge ui`, `forge server`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from forge.options import (
    ConfigOpt,
    JsonOpt,
    SourcesArg,
    WorkspaceOpt,
    emit_json,
    fail,
    resolve_config,
    workspace_of,
)

app = typer.Typer()


def prefect_server_url() -> str:
    """Deployments live on a Prefect server that keeps running: refuse the embedded one."""
    url = os.environ.get("PREFECT_API_URL")
    if not url:
        fail(
            "no Prefect server: start one (`forge server`, or `forge ui` over a workspace) and "
            "export PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    return url or ""


@app.command()
def schedule(
    sources: SourcesArg,
    cron: Annotated[str | None, typer.Option("--cron", help='Cron schedule, e.g. "0 2 * * *" (02:00 daily).')] = None,
    interval: Annotated[float | None, typer.Option("--interval", min=1, help="Or: every this many seconds.")] = None,
    flow: Annotated[str, typer.Option("--flow", help="curate (to a dataset version) or run (to a model).")] = "curate",
    name: Annotated[str | None, typer.Option("--name", help="Deployment name [default: nightly].")] = None,
    pool: Annotated[str, typer.Option("--pool", help="Process work pool that `forge worker` polls.")] = "forge",
    timezone: Annotated[
        str | None, typer.Option("--timezone", help="Time zone of the cron, e.g. Europe/Berlin.")
    ] = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create or update a scheduled deployment of `forge curate` (or `forge run`) of SOURCES.

    The deployment carries the sources and the resolved config as parameters; `forge worker`
    runs it when it is due. Needs a Prefect server (PREFECT_API_URL).
    """
    cfg = resolve_config(config, workspace)
    prefect_server_url()
    from flows.deploy import schedule as deploy

    try:
        result = deploy(
            flow, sources, cfg, name or "nightly", cron=cron, interval=interval, pool=pool, timezone=timezone
        )
    except ValueError as e:
        fail(str(e))
    typer.echo(
        f"deployment {result['deployment']} ({result['schedule']}) on work pool {result['work_pool']}: "
        f"{len(result['sources'])} sources into {result['workspace']}; run it with `forge worker --pool {pool}`"
    )
    if as_json:
        emit_json(result)


@app.command()
def worker(
    pool: Annotated[str, typer.Option("--pool", help="Process work pool to poll.")] = "forge",
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Most flow runs at once.")] = None,
    run_once: Annotated[bool, typer.Option("--run-once", help="Run what is due, then exit.")] = False,
    healthcheck: Annotated[
        bool, typer.Option("--with-healthcheck", help="Serve Prefect's worker health endpoint (for probes).")
    ] = False,
) -> None:
    """Run scheduled Forge flow runs: Prefect's process worker on a work pool (PREFECT_API_URL)."""
    prefect_server_url()
    command = [str(Path(sys.executable).parent / "prefect"), "worker", "start", "--pool", pool, "--type", "process"]
    command += ["--limit", str(limit)] if limit else []
    command += ["--run-once"] if run_once else []
    command += ["--with-healthcheck"] if healthcheck else []
    os.execv(command[0], command)  # the worker is this process: signals and exit codes are its own


@app.command()
def ui(
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    prefect_port: Annotated[int, typer.Option("--prefect-port", help="Port of the Prefect UI and API.")] = 4200,
    mlflow_port: Annotated[int, typer.Option("--mlflow-port", help="Port of the MLflow UI.")] = 5000,
    lineage_port: Annotated[
        int, typer.Option("--lineage-port", help="Port of the lineage page (documents to models and back).")
    ] = 5050,
) -> None:
    """Serve the Prefect UI, the MLflow UI and the lineage page on 127.0.0.1 over the workspace's stores.

    The lineage page finds a document by path, sha256 or doc_id, with every dataset and model version it reached.
    It opens a model version's dataset, counts by reason and documents, with links into both UIs.
    All three servers stop, with every process they started, on Ctrl-C or SIGTERM.
    """
    from forge.services.supervise import ServiceError
    from forge.services.ui import serve

    cfg = resolve_config(config, workspace)
    ports = {"prefect_port": prefect_port, "mlflow_port": mlflow_port, "lineage_port": lineage_port}
    try:
        raise typer.Exit(serve(workspace_of(cfg), **ports))
    except ServiceError as e:
        fail(str(e))


@app.command()
def server(
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    host: Annotated[
        str | None,
        typer.Option("--host", help="Address to listen on (default 127.0.0.1); beyond loopback only when given here."),
    ] = None,
    prefect_port: Annotated[int | None, typer.Option("--prefect-port", help="Prefect API, UI (default 4200).")] = None,
    mlflow_port: Annotated[int | None, typer.Option("--mlflow-port", help="MLflow server, UI (default 5000).")] = None,
    artifacts_destination: Annotated[
        str | None,
        typer.Option("--artifacts-destination", help="Folder or s3:// URL (default <workspace>/mlflow-artifacts)."),
    ] = None,
) -> None:
    """Serve Prefect and MLflow for a team, on PostgreSQL, with MLflow sign-in and artifact proxying.

    Databases from FORGE_PREFECT_DATABASE_URL and FORGE_MLFLOW_DATABASE_URL, the MLflow admin's
    password from FORGE_MLFLOW_ADMIN_PASSWORD. Prints the variables that point forge at both.
    Both servers stop, with every process they started, on Ctrl-C or SIGTERM.
    """
    from forge.services.supervise import ServiceError
    from forge.services.team import serve as serve_team
    from forge_core.config import ConfigError

    cfg = resolve_config(config, workspace)
    try:
        code = serve_team(cfg, host, prefect_port, mlflow_port, artifacts_destination)
    except (ConfigError, ServiceError) as e:
        fail(str(e))
    raise typer.Exit(code)

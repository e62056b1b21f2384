"""What every command shares: the options, how a config and a workspace come from them, errors
that exit with a message, and the --json contract.

Nothing here imports the data stack at module level, so `forge --help` answers at once; the
config (which imports each stage's module for its settings) loads when a command needs it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from forge.runlog import route_logs

if TYPE_CHECKING:
    from forge_core.config import ForgeConfig

WorkspaceOpt = Annotated[
    str | None, typer.Option("--workspace", "-w", help="Workspace folder or fsspec URL (default ./forge-workspace).")
]
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML config file (see `forge init`).")]
SourcesArg = Annotated[list[str], typer.Argument(help="Files or folders of documents (recursed).")]
DaskAddressOpt = Annotated[
    str | None,
    typer.Option("--dask-address", help="Scheduler of an existing Dask cluster, e.g. tcp://127.0.0.1:8786."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="End stdout with one JSON line of the result.")]


def emit_json(obj: Any) -> None:
    """The --json contract: the last line of stdout is one JSON object."""
    sys.stdout.write(json.dumps(obj, default=str) + "\n")


def fail(message: str, code: int = 1) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def check_sources(sources: list[str]) -> None:
    """A missing or empty source is found before any server starts, not after half a minute of start-up."""
    from forge_core.io.sources import SourceError, discover

    try:
        discover(sources)
    except SourceError as e:
        fail(str(e))


def resolve_config(config: Path | None, workspace: str | None) -> ForgeConfig:
    if workspace:  # before the config's imports: a workspace that cannot be written fails in well under a second
        from forge_core.io.workspace import Workspace, WorkspaceError

        try:
            Workspace(workspace)
        except WorkspaceError as e:
            fail(str(e))
    from forge_core.config import ConfigError, load_config

    try:
        return load_config(config, workspace=workspace)
    except ConfigError as e:
        fail(str(e))
        raise  # unreachable: fail() exits


def workspace_of(cfg: ForgeConfig) -> Any:
    """The configured workspace; a missing bucket is a clear error, not a traceback."""
    from forge_core.io.workspace import Workspace, WorkspaceError

    try:
        return Workspace(cfg.workspace)
    except WorkspaceError as e:
        fail(str(e))


def use_workspace_stores(cfg: ForgeConfig) -> None:
    """Embedded mode: Prefect's database lives in the workspace, so a workspace keeps its runs.

    Must run before Prefect is imported. A PREFECT_API_URL in the environment wins: then runs go
    to that server. The ephemeral server can take over 20 s to start on a loaded 2-core machine,
    so its start-up timeout is raised unless the user set one.
    """
    ws = workspace_of(cfg)
    route_logs(ws, command_name())
    # A `forge ui` serving this workspace: run summaries link to its MLflow UI.
    if not os.environ.get("FORGE_MLFLOW_UI_URL") and (url := announced_mlflow_ui(ws)):
        os.environ["FORGE_MLFLOW_UI_URL"] = url
    if os.environ.get("PREFECT_API_URL"):
        return
    if ws.is_local:
        os.environ.setdefault("PREFECT_HOME", prefect_home(ws))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


def prepare_flow_run(sources: list[str], config: Path | None, workspace: str | None, dask: str | None) -> ForgeConfig:
    """What every command that runs a flow over SOURCES does first, in the order that fails fastest:
    the config, the sources, the workspace (writable?), then the stores and the log file."""
    cfg = resolve_config(config, workspace)
    if dask:
        cfg.dask.address = dask
    check_sources(sources)
    use_workspace_stores(cfg)
    return cfg


def open_workspace(workspace: str | None, config: Path | None) -> Any:
    return workspace_of(resolve_config(config, workspace))


def open_tracking(cfg: ForgeConfig) -> Any:
    """The workspace and MLflow pointed at its stores, as `forge run` uses them."""
    from forge_core.lineage.tracking import TrackingError, use_workspace_tracking

    ws = workspace_of(cfg)
    route_logs(ws, command_name())
    try:
        use_workspace_tracking(ws)
    except TrackingError as e:
        fail(str(e))
    return ws


def print_log_path() -> None:
    """Where the libraries' log of this run went (forge/runlog.py), below the summary."""
    from forge.runlog import current_log

    log = current_log()
    if log is not None:
        typer.echo(f"log:     {log}")


def command_name() -> str:
    """The command being run, as its log folder is named: `forge lineage model ...` logs to lineage/."""
    words = [arg for arg in sys.argv[1:] if not arg.startswith("-")]
    return words[0] if words else "forge"


def prefect_home(ws: Any) -> str:
    """Prefect's database and settings for runs over a local workspace: <workspace>/prefect."""
    return ws.path("prefect")


UI_FILE = "ui.json"  # the address of the MLflow UI `forge ui` serves over this workspace, while it runs


def announced_mlflow_ui(ws: Any) -> str | None:
    """The MLflow UI a running `forge ui` serves over this workspace, if one does."""
    path = Path(ws.path(UI_FILE)) if ws.is_local else None
    if path is None or not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        os.kill(int(record["pid"]), 0)  # still running?
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(record["mlflow"])

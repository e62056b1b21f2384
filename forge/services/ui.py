"""`forge ui`: the Prefect UI, the MLflow UI and the lineage page on loopback, over the stores a
workspace's runs wrote.

The three servers run as child processes (`prefect server start`, `mlflow server`, `python -m
forge.services.lineage_page`), supervised as supervise.py describes; their output goes to
<workspace>/logs/ui/. The lineage page links into the other two UIs, wherever they answer.

The servers see the same stores `forge curate` used, by the same rules (forge/options.py
use_workspace_stores, forge_core/lineage/tracking.py): the workspace's Prefect home and MLflow
SQLite store by default; a PREFECT_API_URL or an http(s) MLFLOW_TRACKING_URI in the environment
means the runs are on that server, whose own UI is the one to open, so none is started for it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from forge.options import UI_FILE, prefect_home
from forge.services.supervise import (
    Service,
    ServiceError,
    child_env,
    executable,
    log_dir,
    print_urls,
    supervise,
    url_host,
)
from forge_core.airgap import is_loopback
from forge_core.io.workspace import Workspace
from forge_core.lineage.tracking import TrackingError, artifact_root, tracking_uri


def serve(
    ws: Workspace,
    prefect_port: int = 4200,
    mlflow_port: int = 5000,
    lineage_port: int = 5050,
    host: str = "127.0.0.1",
) -> int:
    """Serve the Prefect UI, the MLflow UI and the lineage page on `host` (loopback only) until
    Ctrl-C or SIGTERM.

    Returns 0 after a requested stop. Raises ServiceError when a server cannot start (a port taken,
    an executable missing, no answer within STARTUP_TIMEOUT_S) or dies on its own, with the tail of
    its log; every process started is stopped first, in all cases (see supervise).

    With PREFECT_API_URL set, `forge curate` sends its runs to that server, so its UI is the one
    that shows them: no Prefect server is started over the workspace's (then unused) home.
    Likewise with an http(s) MLFLOW_TRACKING_URI; any other MLFLOW_TRACKING_URI (a database) is
    served, since that is where the runs are. The lineage page always starts, linking to those UIs.
    """
    if not host or not is_loopback(host):
        raise ServiceError(
            f"host {host!r} is not a loopback address; the UIs serve a workspace's data without "
            "authentication, so they bind only to 127.0.0.1 (or ::1, localhost)"
        )
    ports = {"--prefect-port": prefect_port, "--mlflow-port": mlflow_port, "--lineage-port": lineage_port}
    for option, port in ports.items():
        same = [other for other, p in ports.items() if p == port and other != option]
        if same:
            raise ServiceError(f"{option} and {same[0]} are both {port}; give them different ports")

    logs = log_dir(ws)
    prefect = prefect_service(ws, host, prefect_port, logs)
    mlflow = mlflow_service(ws, host, mlflow_port, logs)
    lineage = lineage_service(ws, host, lineage_port, logs, prefect_ui_url(prefect), mlflow_ui_url(mlflow))
    to_start = [s for s in (prefect, mlflow, lineage) if s is not None]
    announced = Path(ws.path(UI_FILE)) if ws.is_local else None

    def ready(services: list[Service]) -> None:
        if announced is not None and mlflow is not None:
            # `forge run` in another shell links its summary to this UI (forge/options.py).
            announced.write_text(json.dumps({"mlflow": mlflow.url, "pid": os.getpid()}) + "\n", encoding="utf-8")
        if mlflow is not None:  # the model-training view, which MLflow 3.17's UI opens only when asked
            print(f"{'MLflow runs:':12} {mlflow.url}/#/experiments?workflowType=machine_learning", flush=True)
        print_urls(services)

    try:
        return supervise(to_start, "forge ui", ready)
    finally:
        if announced is not None:
            announced.unlink(missing_ok=True)


# What to start ------------------------------------------------------------------------------


def prefect_service(ws: Workspace, host: str, port: int, logs: Path) -> Service | None:
    """The Prefect server over the Prefect home `forge curate` used, or None when runs go elsewhere."""
    api_url = os.environ.get("PREFECT_API_URL")
    if api_url:
        ui_url = api_url.rstrip("/").removesuffix("/api")
        print(f"Prefect:  runs go to the server at {api_url} (PREFECT_API_URL); open its UI at {ui_url}", flush=True)
        return None
    env = child_env()
    # The same rule as use_workspace_stores in forge/options.py: a PREFECT_HOME the user set wins,
    # and a workspace that is not a local folder cannot hold Prefect's SQLite database.
    if ws.is_local:
        env.setdefault("PREFECT_HOME", prefect_home(ws))
    url = f"http://{url_host(host)}:{port}"
    command = [
        executable("prefect"),
        "server",
        "start",
        "--host",
        host,
        "--port",
        str(port),
        "--analytics-off",
        # Not interactive: otherwise `prefect server start` may offer to switch the profile.
        "--no-prompt",
    ]
    return Service(
        "Prefect", host, port, "--prefect-port", url, f"{url}/api/health", command, env, logs / "prefect.log"
    )


def mlflow_service(ws: Workspace, host: str, port: int, logs: Path) -> Service | None:
    """The MLflow server over the tracking store `forge` writes to, or None when that is a server."""
    configured = os.environ.get("MLFLOW_TRACKING_URI", "")
    if configured.startswith(("http://", "https://", "databricks")):
        print(f"MLflow:   runs go to the server at {configured} (MLFLOW_TRACKING_URI); open its UI there", flush=True)
        return None
    try:
        store = tracking_uri(ws)
    except TrackingError as e:
        raise ServiceError(str(e)) from e
    env = child_env()
    # MLflow's job execution (GenAI judges, prompt optimisation) is not used by Forge; it forks a
    # Huey consumer, starts jobs in sessions of their own, which a stop of the process group would
    # not reach, and leaves a folder in /dev/shm per start. A user can still switch it on.
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    url = f"http://{url_host(host)}:{port}"
    command = [
        executable("mlflow"),
        "server",
        "--host",
        host,
        "--port",
        str(port),
        "--backend-store-uri",
        store,
        # MLflow defaults to 4 uvicorn workers: 4 processes over one SQLite file on a 2-core machine.
        "--workers",
        "1",
    ]
    root = artifact_root(ws)
    if root:
        # Experiments created in the UI keep their artifacts with the workspace, and artifacts
        # uploaded through the server (mlflow-artifacts:/) land there too, not in ./mlartifacts.
        command += ["--default-artifact-root", root, "--artifacts-destination", root]
    return Service("MLflow", host, port, "--mlflow-port", url, f"{url}/health", command, env, logs / "mlflow.log")


def lineage_service(ws: Workspace, host: str, port: int, logs: Path, prefect_url: str, mlflow_url: str) -> Service:
    """The lineage page (forge/services/lineage_page.py) over the workspace, linking to both UIs."""
    url = f"http://{url_host(host)}:{port}"
    workspace = ws.root if ws.is_local else ws.url
    command = [sys.executable, "-m", "forge.services.lineage_page", "--workspace", workspace]
    command += ["--host", host, "--port", str(port), "--prefect-url", prefect_url, "--mlflow-url", mlflow_url]
    env = child_env()
    return Service("Lineage", host, port, "--lineage-port", url, f"{url}/health", command, env, logs / "lineage.log")


def prefect_ui_url(started: Service | None) -> str:
    """Where the Prefect UI answers: the one started here, or the server PREFECT_API_URL names."""
    if started is not None:
        return started.url
    return os.environ.get("PREFECT_API_URL", "").rstrip("/").removesuffix("/api")


def mlflow_ui_url(started: Service | None) -> str:
    """Where the MLflow UI answers: the one started here, or an http(s) MLFLOW_TRACKING_URI ('' if neither)."""
    if started is not None:
        return started.url
    configured = os.environ.get("MLFLOW_TRACKING_URI", "")
    return configured.rstrip("/") if configured.startswith(("http://", "https://")) else ""

"""Where a run's logs go: a file in the workspace, not the terminal.

Prefect, MLflow, Lightning, Dask and Great Expectations each log to the terminal by default, and a
run that fails buries the one line that matters under thousands of theirs. A command that runs a
flow sends all of that to <workspace>/logs/<command>/<time>.log (the terminal keeps Forge's own
progress and summary, and prints the log's path); `--debug` or FORGE_DEBUG=1 leaves every library
on the terminal as it would be without Forge.

Prefect reads its logging configuration when it is imported, so `route_logs` must run before the
first import of prefect: its own logging.yml is copied with the terminal handlers swapped for this
file, and PREFECT_LOGGING_SETTINGS_PATH points at the copy.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

DEBUG_ENV = "FORGE_DEBUG"
_current: Path | None = None
_enabled = False
# Libraries whose loggers install their own terminal handler; their records go to the file instead.
QUIETED = (
    "mlflow",
    "alembic",
    "lightning",
    "lightning.pytorch",
    "lightning.fabric",
    "distributed",
    "great_expectations",
)


def debugging() -> bool:
    """`forge --debug` or FORGE_DEBUG=1: tracebacks and every library's log on the terminal."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def enable() -> None:
    """Route logs in this process: the `forge` executable calls it; the app called in-process (tests,
    a notebook) leaves the host's logging alone."""
    global _enabled
    _enabled = True


def current_log() -> Path | None:
    """The log file this process writes, once `route_logs` chose one."""
    return _current


def route_logs(ws: Any, command: str) -> Path | None:
    """Send library logs to a new file under the workspace's logs/<command>/; None in debug mode."""
    global _current
    if debugging() or not _enabled:
        return None
    if _current is not None:
        return _current
    folder = Path(ws.path("logs", command)) if ws.is_local else Path(tempfile.gettempdir(), f"forge-logs-{command}")
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    log.touch()
    if "PREFECT_LOGGING_SETTINGS_PATH" not in os.environ:
        settings = folder / f".prefect-logging-{os.getpid()}.yml"
        settings.write_text(prefect_logging_config(log), encoding="utf-8")
        os.environ["PREFECT_LOGGING_SETTINGS_PATH"] = str(settings)
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")  # MLflow's records reach the root logger
    to_file = logging.FileHandler(log, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s | %(levelname)-7s | %(name)s - %(message)s"))
    root = logging.getLogger()
    root.addHandler(to_file)
    root.setLevel(min(root.level or logging.WARNING, logging.INFO))
    for name in QUIETED:
        quiet = logging.getLogger(name)
        for handler in list(quiet.handlers):
            quiet.removeHandler(handler)
        quiet.propagate = True
    _current = log
    return log


def settle_logs(training: bool = False) -> None:
    """Once a command has imported what its flow needs: strip the terminal handlers that libraries
    installed at import time and send MLflow's direct prints ("Successfully registered model ...")
    to the log too. training: import Lightning now (its package adds a terminal handler when it is
    imported, which the flow would otherwise do later)."""
    if _current is None:
        return
    if training:
        import lightning  # noqa: F401
    for name in QUIETED:
        quiet = logging.getLogger(name)
        for handler in list(quiet.handlers):
            if not isinstance(handler, logging.FileHandler):
                quiet.removeHandler(handler)
        quiet.propagate = True
    import mlflow.utils.logging_utils as mlflow_logging

    mlflow_logging.MLFLOW_LOGGING_STREAM = open(_current, "a", encoding="utf-8", buffering=1)  # noqa: SIM115


def prefect_logging_config(log: Path) -> str:
    """Prefect's own logging.yml with every terminal handler writing to `log` instead."""
    import importlib.util

    spec = importlib.util.find_spec("prefect")
    assert spec is not None and spec.origin is not None, "prefect is not installed"
    shipped = Path(spec.origin).parent / "logging" / "logging.yml"
    config = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    for name in ("console", "debug"):
        config["handlers"][name] = {
            "level": 0,
            "class": "logging.FileHandler",
            "formatter": "standard",
            "filename": str(log),
            "encoding": "utf-8",
        }
    config["root"] = {"level": "INFO", "handlers": ["console"]}
    return yaml.safe_dump(config, sort_keys=False)

"""Runs left "Running" by a `forge` process that died are marked as crashed by the next run.

A `forge` killed with SIGKILL cannot tell Prefect or MLflow that its runs ended, and both would
show them running forever. So every flow run a command starts carries a tag naming the process
that owns it (host, pid and the process's start time, so a recycled pid is not taken for it), and
before a command starts a flow it looks for runs of the workspace still Running or Pending whose
owner is gone: their Prefect flow runs become Crashed and their MLflow runs (tagged with the flow
run's id, and those nested under them) FAILED. Runs owned by a live process, by another host or
by a Prefect worker (no owner tag) are left alone.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psutil

OWNER_PREFIX = "forge-process:"


def owner_tag(pid: int | None = None) -> str:
    process = psutil.Process(pid or os.getpid())
    return f"{OWNER_PREFIX}{socket.gethostname()}:{process.pid}:{int(process.create_time() * 1000)}"


def owner_alive(tag: str) -> bool | None:
    """True or False for an owner on this host; None when it ran elsewhere (nothing to know)."""
    host, pid, started = tag.removeprefix(OWNER_PREFIX).rsplit(":", 2)
    if host != socket.gethostname():
        return None
    try:
        return int(psutil.Process(int(pid)).create_time() * 1000) == int(started)
    except (psutil.NoSuchProcess, ValueError):
        return False


@contextmanager
def owned_runs() -> Iterator[None]:
    """Flow runs started inside carry this process's owner tag."""
    from prefect import tags

    with tags(owner_tag()):
        yield


def mark_crashed_runs(mlflow: bool = False) -> list[str]:
    """Crash the flow runs whose owner died (and fail their MLflow runs); returns their ids."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    active = FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING])
    crashed: list[str] = []
    with get_client(sync_client=True) as client:
        for run in client.read_flow_runs(flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=active))):
            owner = next((t for t in run.tags if t.startswith(OWNER_PREFIX)), None)
            if owner is None or owner_alive(owner) is not False:
                continue
            who = owner.removeprefix(OWNER_PREFIX)
            message = f"the forge process that ran it ({who}) is gone; marked by a later run"
            client.set_flow_run_state(run.id, Crashed(message=message), force=True)
            crashed.append(str(run.id))
    if crashed and mlflow:
        fail_mlflow_runs(crashed)
    return crashed


def fail_mlflow_runs(flow_run_ids: list[str]) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return
    running: list[Any] = client.search_runs(experiments, filter_string="attributes.status = 'RUNNING'")
    dead = {r.info.run_id for r in running if r.data.tags.get("prefect_flow_run_id") in flow_run_ids}
    grew = True
    while grew:  # and the runs nested under them
        nested = {r.info.run_id for r in running if r.data.tags.get("mlflow.parentRunId") in dead}
        grew = not nested <= dead
        dead |= nested
    for run_id in dead:
        client.set_terminated(run_id, "FAILED")

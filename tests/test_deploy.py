"""Scheduled deployments: `forge schedule` creates one on the session's Prefect server, it comes due,
and `forge worker` runs it to completion."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, SAMPLES
from prefect import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.settings import PREFECT_API_URL, temporary_settings
from test_cli import forge

from flows.deploy import ensure_pool
from forge_core.config import ForgeConfig

QUICK = {"dask": {"n_workers": 1}, "validation": {"enabled": True}}


@pytest.fixture(scope="module")
def server_env(tmp_path_factory) -> Iterator[dict[str, str]]:
    """A whole Prefect server on 127.0.0.1, scheduler included (the session's test server runs
    without services), its scheduler looping every 5 s instead of 60; stopped at the end."""
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path_factory.mktemp("prefect-server")),
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_UI_ENABLED": "false",
    }
    command = [
        str(Path(sys.executable).parent / "prefect"),
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "the Prefect server did not start"
            time.sleep(0.5)
        with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}):
            yield env
    finally:
        server.terminate()
        server.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flow_runs(deployment_id: str, *states: StateType):
    state_filter = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=list(states))))
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_run_filter=state_filter,
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
        )


def test_a_scheduled_curate_comes_due_and_the_worker_runs_it(tmp_path, server_env):
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLES / "corpus" / "kb", docs)
    (tmp_path / "quick.yaml").write_text(yaml.safe_dump(QUICK))
    args = [str(docs), "--interval", "60", "--name", "every-minute", "--pool", "forge-test"]
    done = forge(
        "schedule", *args, "--workspace", "ws", "--config", "quick.yaml", "--json", cwd=tmp_path, env=server_env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    created = json.loads(done.stdout.strip().splitlines()[-1])
    assert created["deployment"] == "curate/every-minute" and created["schedule"] == "every 60 s"
    assert created["workspace"] == str(tmp_path / "ws") and created["sources"] == [str(docs)]

    # The server's scheduler creates the runs; the first falls due within the minute.
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        due = [
            r
            for r in flow_runs(created["deployment_id"], StateType.SCHEDULED)
            if r.expected_start_time.timestamp() <= time.time() + 5
        ]
        if due:
            break
        time.sleep(2)
    assert due, "no run of the deployment came due"

    worker = forge("worker", "--pool", "forge-test", "--run-once", cwd=tmp_path, env=server_env, timeout=400)
    assert worker.returncode == 0, worker.stderr[-3000:]
    completed = flow_runs(created["deployment_id"], StateType.COMPLETED)
    assert len(completed) >= 1, flow_runs(created["deployment_id"], *StateType)
    listed = forge("dataset", "list", "--workspace", "ws", "--json", cwd=tmp_path, env=server_env)
    assert len(json.loads(listed.stdout.strip().splitlines()[-1])["datasets"]) == 1

    # Scheduling the same name again updates the deployment in place: one deployment, the new schedule.
    again = forge(
        "schedule",
        *args[:1],
        "--cron",
        "0 2 * * *",
        "--name",
        "every-minute",
        "--pool",
        "forge-test",
        "--workspace",
        "ws",
        "--json",
        cwd=tmp_path,
        env=server_env,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout.strip().splitlines()[-1])["deployment_id"] == created["deployment_id"]
    with get_client(sync_client=True) as client:
        schedules = client.read_deployment(created["deployment_id"]).schedules
    assert [s.schedule.cron for s in schedules] == ["0 2 * * *"]


def test_schedule_and_worker_refuse_to_run_without_a_server(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    for args in (["schedule", str(tmp_path), "--cron", "0 2 * * *"], ["worker", "--run-once"]):
        done = forge(*args, cwd=tmp_path, env=env)
        assert done.returncode == 1 and "no Prefect server" in done.stderr


def test_prefect_yaml_deploys_every_flow_with_valid_parameters_and_schedules(tmp_path, server_env):
    """`prefect deploy --all` of the shipped prefect.yaml, against the real server: every deployment
    is created with its cron, and its parameters validate as a Forge config."""
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    for d in spec["deployments"]:
        ForgeConfig.model_validate(d["parameters"]["config"])
    ensure_pool("forge")  # as its header says: `prefect work-pool create forge --type process`
    done = subprocess.run(
        [str(Path(sys.executable).parent / "prefect"), "--no-prompt", "deploy", "--all"],
        cwd=ROOT,
        env=server_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with get_client(sync_client=True) as client:
        deployed = {d.name: d for d in client.read_deployments()}
    for d in spec["deployments"]:  # an on-demand deployment (erasure) has no schedule
        assert [s.schedule.cron for s in deployed[d["name"]].schedules] == [s["cron"] for s in d.get("schedules", [])]
        assert deployed[d["name"]].work_pool_name == "forge"
        assert deployed[d["name"]].parameters.get("sources") == d["parameters"].get("sources")

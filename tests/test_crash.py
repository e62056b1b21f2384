"""A `forge curate` killed with SIGKILL leaves nothing behind, and the next run cleans up after it.

Each kill lands in a later stage: the runs share one workspace, so a rerun resumes from the shards
the killed one finished and reaches the next stage sooner. Every process the killed `forge` had
started (the embedded Prefect server, Dask's nannies and workers) must be gone 10 s later; the run
that finally finishes marks the killed runs' Prefect flow runs Crashed. It is two runs of the same
inputs started together: the second waits for the first and reuses its dataset version.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ["fingerprint:", "ingest:", "clean:", "sign:"]  # the progress bars each stage starts with
START_S = 240  # the embedded Prefect server and a Dask cluster start on a loaded 2-core machine


def forge_env() -> dict[str, str]:
    """The workspace's own stores: no Prefect server or MLflow server from the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "FORGE_"))}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env | {"PYTHONUNBUFFERED": "1"}


def curate(workspace: Path) -> subprocess.Popen[bytes]:
    cmd = [str(Path(sys.executable).parent / "forge"), "curate", str(ROOT / "data_samples" / "corpus")]
    return subprocess.Popen(
        [*cmd, "--workspace", str(workspace)], env=forge_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


class Output:
    def __init__(self, proc: subprocess.Popen[bytes]):
        self.data = b""
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read1(4096):
            self.data += chunk

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def descendants(pid: int) -> dict[int, float]:
    try:
        return {c.pid: c.create_time() for c in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return {}


def still_alive(known: dict[int, float]) -> list[str]:
    alive = []
    for pid, started in known.items():
        try:
            p = psutil.Process(pid)
            if p.create_time() == started and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{pid} {' '.join(p.cmdline())[:160]}")
        except psutil.NoSuchProcess:
            continue
    return alive


def kill_during(workspace: Path, marker: str) -> tuple[dict[int, float], str]:
    """Start curate, SIGKILL it once `marker` shows; every descendant seen up to then, and the output."""
    proc = curate(workspace)
    out = Output(proc)
    seen: dict[int, float] = {}
    deadline = time.monotonic() + START_S
    try:
        while marker not in out.text:
            seen |= descendants(proc.pid)
            if proc.poll() is not None:
                pytest.fail(f"forge curate ended (exit {proc.returncode}) before {marker!r}:\n{out.text}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {marker!r} within {START_S} s:\n{out.text}")
            time.sleep(0.05)
        seen |= descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    return seen, out.text


def flow_run_states(workspace: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(workspace / "prefect" / "prefect.db") as db:
        return db.execute("select name, state_type from flow_run").fetchall()


def test_sigkill_at_each_stage_leaves_no_process_then_runs_of_the_same_inputs_take_turns(tmp_path: Path):
    workspace = tmp_path / "ws"
    for marker in STAGES:
        seen, text = kill_during(workspace, marker)
        # Not vacuous: the killed run had started Prefect's server and Dask's workers.
        assert len(seen) >= 3, f"only {len(seen)} processes seen before {marker!r}:\n{text}"
        deadline = time.monotonic() + 10  # gone within 10 s (and, by start time, not come back)
        while (left := still_alive(seen)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left, f"killed during {marker!r}; alive 10 s later:\n" + "\n".join(left)

    states = flow_run_states(workspace)
    assert any(state == "RUNNING" for _, state in states), states  # what a kill leaves: runs "Running"

    # Then two runs of the same inputs at once: one finishes the work (and marks the killed runs
    # crashed), the other waits for it (a lock per dataset_id) and reuses its dataset version.
    results, waited = two_at_once(workspace)
    assert sorted(r["reused"] for r in results) == [False, True], results
    assert "another run is curating the same inputs into this workspace" in waited
    states = flow_run_states(workspace)
    assert not [s for s in states if s[1] in ("RUNNING", "PENDING")], states
    assert sum(1 for _, state in states if state == "CRASHED") >= len(STAGES), states
    for folder in (workspace / "datasets").iterdir():
        assert (folder / "manifest.json").exists(), f"{folder} left unfinished"


def two_at_once(workspace: Path) -> tuple[list[dict], str]:
    """Two `forge curate --json` of the same inputs, the second a second later: their results, and
    what the one that reused the other's work printed on stderr."""
    import json

    cmd = [str(Path(sys.executable).parent / "forge"), "curate", str(ROOT / "data_samples" / "corpus")]
    cmd += ["--workspace", str(workspace), "--json"]
    runs = [subprocess.Popen(cmd, env=forge_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
    time.sleep(1)
    runs.append(subprocess.Popen(cmd, env=forge_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, out + err
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert results[0]["dataset_id"] == results[1]["dataset_id"]
    waited = [err for (_, err), r in zip(outputs, results, strict=True) if r["reused"]]
    return results, waited[0] if waited else ""

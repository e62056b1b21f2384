"""`forge ui` as a user runs it: both UIs answer on loopback, and a stop leaves no process behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from forge.services.supervise import ServiceError
from forge.services.ui import serve
from forge_core.io.workspace import Workspace

# Both servers migrate fresh databases and start at once; on a loaded 2-core machine that takes a while.
STARTUP_S = 240


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def forge_ui(workspace: Path, prefect_port: int, mlflow_port: int) -> subprocess.Popen[str]:
    """`forge ui` in a shell with no Prefect or MLflow server configured: the workspace's stores."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k != "MLFLOW_TRACKING_URI"}
    cmd = [str(Path(sys.executable).parent / "forge"), "ui", "--workspace", str(workspace)]
    cmd += ["--prefect-port", str(prefect_port), "--mlflow-port", str(mlflow_port)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


class Output:
    """The command's output, read on a thread so the test can wait for a line with a deadline."""

    def __init__(self, proc: subprocess.Popen[str]):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, marker: str, proc: subprocess.Popen[str], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while marker not in self.text:
            if proc.poll() is not None:
                self._thread.join(5)
                pytest.fail(f"forge ui exited with {proc.returncode} before printing {marker!r}:\n{self.text}")
            if time.monotonic() > deadline:
                pytest.fail(f"forge ui printed no {marker!r} within {timeout} s:\n{self.text}")
            time.sleep(0.2)
        return self.text


def get(url: str) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as response:
        assert response.status == 200, url
        return response.read().decode("utf-8", errors="replace")


def alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def is_watchdog(p: psutil.Process) -> bool:
    try:
        return "forge.lifeline" in p.cmdline()
    except psutil.NoSuchProcess:
        return False


def test_ui_serves_both_uis_and_stops_everything_on_sigterm(tmp_path):
    workspace = tmp_path / "ws"
    prefect_port, mlflow_port = free_ports(2)
    proc = forge_ui(workspace, prefect_port, mlflow_port)
    output = Output(proc)
    started: list[psutil.Process] = []
    try:
        text = output.wait_for("Ctrl-C", proc, STARTUP_S)
        assert f"http://127.0.0.1:{prefect_port}" in text
        assert f"http://127.0.0.1:{mlflow_port}" in text
        assert str(workspace / "logs" / "ui" / "prefect.log") in text

        assert get(f"http://127.0.0.1:{prefect_port}/api/health").strip() == "true"
        assert "<title>Prefect Server</title>" in get(f"http://127.0.0.1:{prefect_port}/")
        assert "<title>MLflow</title>" in get(f"http://127.0.0.1:{mlflow_port}/")
        assert f"http://127.0.0.1:{mlflow_port}/#/experiments?workflowType=machine_learning" in text
        # While it runs, a `forge run` over the workspace links its summary to this MLflow UI.
        from forge.options import announced_mlflow_ui

        assert announced_mlflow_ui(Workspace(str(workspace))) == f"http://127.0.0.1:{mlflow_port}"

        started = psutil.Process(proc.pid).children(recursive=True)
        commands = [" ".join(p.cmdline()) for p in started]
        assert any("prefect server start" in c for c in commands), commands
        assert any("mlflow server" in c for c in commands), commands

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, output.text
    finally:
        if proc.poll() is None:  # the test failed midway: leave nothing running
            started = started or psutil.Process(proc.pid).children(recursive=True)
            proc.kill()
            proc.wait()
        # forge ui stops its servers itself; only its watchdog (forge.lifeline) outlives it, by design
        # just long enough to find nothing left to stop: on a busy machine that can take seconds.
        lingering = [p for p in started if alive(p)]
        watchdogs = [p for p in lingering if is_watchdog(p)]
        survivors = [p for p in lingering if p not in watchdogs]
        survivors += [p for p in psutil.wait_procs(watchdogs, timeout=15)[1] if alive(p)]
        for p in survivors:
            p.kill()
    assert survivors == [], f"still running after forge ui stopped: {[p.cmdline() for p in survivors]}"

    # The runs of this workspace stay with it: both servers kept their stores inside it.
    assert (workspace / "prefect" / "prefect.db").exists()
    assert (workspace / "mlflow" / "mlflow.db").exists()
    assert not (workspace / "ui.json").exists()  # no address announced for a UI that stopped


def test_ui_refuses_a_port_in_use_before_starting_anything(tmp_path):
    workspace = tmp_path / "ws"
    taken, mlflow_port = free_ports(2)
    with socket.create_server(("127.0.0.1", taken)):
        proc = forge_ui(workspace, taken, mlflow_port)
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert f"port {taken}" in out and "already in use" in out and "--prefect-port" in out, out
    assert not (workspace / "logs" / "ui" / "prefect.log").exists()
    assert not (workspace / "logs" / "ui" / "mlflow.log").exists()


def test_ui_refuses_to_listen_beyond_loopback(tmp_path):
    with pytest.raises(ServiceError, match="not a loopback address"):
        serve(Workspace(str(tmp_path / "ws")), host="0.0.0.0")

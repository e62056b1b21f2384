"""Forge stays on the machine: telemetry off by Forge itself, and no socket to anywhere else.

The egress guard (tests/egress.py) runs in every process of this suite, Dask workers and
Prefect's server included, and fails the session on any attempt; these tests prove the guard
itself works, so its silence means something.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from conftest import ROOT
from egress import EgressBlocked

from forge_core.airgap import TELEMETRY_OFF, is_loopback


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def test_importing_forge_switches_telemetry_off_even_against_the_users_environment():
    code = f"import os, json, forge_core; print(json.dumps({{k: os.environ[k] for k in {list(TELEMETRY_OFF)!r}}}))"
    result = run_python(code, DO_NOT_TRACK="false", MLFLOW_DISABLE_TELEMETRY="false", GX_ANALYTICS_ENABLED="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == __import__("json").dumps(TELEMETRY_OFF)


def test_guard_blocks_and_records_a_connection_in_this_process(tmp_path, monkeypatch):
    log = tmp_path / "egress.log"
    monkeypatch.setenv("FORGE_EGRESS_LOG", str(log))
    with pytest.raises(EgressBlocked), socket.create_connection(("203.0.113.7", 80), timeout=1):
        pass  # TEST-NET-3: reserved for documentation; the guard refuses before any packet
    assert "203.0.113.7:80" in log.read_text()


def test_guard_covers_subprocesses_and_name_lookups(tmp_path):
    log = tmp_path / "egress.log"
    code = "import urllib.request; urllib.request.urlopen('http://example.invalid/', timeout=1)"
    result = run_python(code, FORGE_EGRESS_LOG=str(log))
    assert result.returncode != 0
    assert "blocked network egress" in result.stderr
    assert "example.invalid" in log.read_text()


def test_loopback_is_allowed():
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.9.1", "::1", "localhost"))
    assert not any(is_loopback(h) for h in ("10.0.0.1", "192.168.1.1", "8.8.8.8", "example.com"))


def test_forge_core_imports_no_prefect():
    code = (
        "import pkgutil, importlib, sys, forge_core\n"
        "for m in pkgutil.walk_packages(forge_core.__path__, 'forge_core.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'prefect')\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stdout + result.stderr

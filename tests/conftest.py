from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SAMPLES = ROOT / "data_samples"
MODEL = "forge-test"
MLFLOW_UI = "http://127.0.0.1:5999"  # as `forge ui` would export it; nothing listens there
QUICK = {  # the demo's pipeline at test size: a small vocabulary, a few steps
    "tokenize": {"vocab_size": 512},
    "train": {"max_steps": 12, "eval_every": 6, "batch_size": 4, "warmup_steps": 2},
    "eval": {"max_batches": 4, "samples": 2, "max_new_tokens": 8},
    "registry": {"model_name": MODEL},
    "dask": {"n_workers": 2},
}
EGRESS_LOG = Path(os.environ.get("TMPDIR", "/tmp")) / f"forge-egress-{os.getpid()}.log"

# Before anything imports Prefect, Dask or MLflow: every process of the suite, this one and the
# ones it starts, runs under the egress guard and without any user Prefect server.
EGRESS_LOG.unlink(missing_ok=True)
os.environ["FORGE_EGRESS_LOG"] = str(EGRESS_LOG)
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT / "tests" / "egress_guard"), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
).rstrip(os.pathsep)
os.environ.pop("PREFECT_API_URL", None)
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
sys.path.insert(0, str(ROOT / "tests"))

import egress  # noqa: E402

egress.install()


def pytest_sessionfinish(session, exitstatus):
    """Any blocked egress anywhere in the run (Dask workers and Prefect's server included) fails it."""
    if EGRESS_LOG.exists() and EGRESS_LOG.read_text().strip():
        sys.stderr.write("\nNetwork egress was attempted during the tests:\n" + EGRESS_LOG.read_text())
        session.exitstatus = 1


@pytest.fixture(scope="session", autouse=True)
def prefect_harness(tmp_path_factory):
    """One Prefect test server for the whole session: its start-up costs seconds on 2 cores."""
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="session")
def forge_run_workspace(tmp_path_factory) -> dict:
    """One `forge run` of data_samples/corpus from a shell, as a user types it, shared by every module
    that reads what a finished run records (test_run.py's `run` fixture points MLflow at it)."""
    import json

    import yaml
    from test_cli import forge

    home = tmp_path_factory.mktemp("run")
    (home / "quick.yaml").write_text(yaml.safe_dump(QUICK))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}  # Prefect embedded, as forge() does
    env |= {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180", "FORGE_MLFLOW_UI_URL": MLFLOW_UI}
    corpus = SAMPLES / "corpus"
    done = forge("run", str(corpus), "--workspace", "ws", "--config", "quick.yaml", "--json", cwd=home, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, "home": home, "stdout": done.stdout}

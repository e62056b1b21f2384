"""`forge server` as a team runs it: Prefect and MLflow on PostgreSQL, MLflow behind sign-in with
proxied artifacts, `forge run` recording into both from another shell, and a stop that leaves no
process behind. Everything listens on 127.0.0.1 and runs under the suite's egress guard."""

from __future__ import annotations

import json
import os
import secrets
import signal
import stat
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest
import yaml
from conftest import SAMPLES
from postgres import Postgres, PostgresUnavailable, binaries, postgres_server, run_as
from s3_server import s3_server
from test_ui import Output, alive, free_ports
from typer.testing import CliRunner

from forge.cli import app
from forge.services.team import write_auth_ini
from forge_core.config import ForgeConfig, ServerConfig

# Both servers migrate fresh PostgreSQL databases at once; on a loaded 2-core machine that takes a while.
STARTUP_S = 240
ADMIN = "admin"
ADMIN_PASSWORD = f"forge-test-{secrets.token_urlsafe(9)}%"  # '%' is special in MLflow's ini file
FORGE = str(Path(sys.executable).parent / "forge")
MODEL = "forge-test"
QUICK = {  # tests/test_run.py's: the demo's pipeline at test size
    "tokenize": {"vocab_size": 512},
    "train": {"max_steps": 12, "eval_every": 6, "batch_size": 4, "warmup_steps": 2},
    "eval": {"max_batches": 4, "samples": 2, "max_new_tokens": 8},
    "registry": {"model_name": MODEL},
    "dask": {"n_workers": 2},
}


@pytest.fixture
def postgres() -> Postgres:
    try:
        binaries(), run_as()
    except PostgresUnavailable as e:
        pytest.skip(f"cannot run PostgreSQL here: {e}")
    with postgres_server() as server:
        server.create_database("prefect")
        server.create_database("mlflow")
        yield server


def clean_env(**extra: str) -> dict[str, str]:
    """The suite's environment (egress guard included) without any Prefect or MLflow server set."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_", "FORGE_MLFLOW", "FORGE_PREF"))
    }
    return {**env, **extra}


def get_status(url: str, auth: tuple[str, str] | None = None) -> int:
    request = urllib.request.Request(url)
    if auth:
        import base64

        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def marked(mark: str) -> list[psutil.Process]:
    """Every live process started with FORGE_TEST_MARK=mark in its environment, orphans included."""
    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("FORGE_TEST_MARK") == mark and alive(p):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@pytest.fixture(scope="module")
def bucket(tmp_path_factory):
    """The object store MLflow's server keeps artifacts in: a loopback S3 server (moto), a real process."""
    with s3_server(tmp_path_factory.mktemp("s3"), buckets=("mlflow-artifacts",)) as s3:
        yield s3


@pytest.mark.slow
def test_forge_run_records_into_the_team_servers_on_postgres(postgres, bucket, tmp_path, monkeypatch):
    prefect_port, mlflow_port = free_ports(2)
    prefect_api, mlflow_url = f"http://127.0.0.1:{prefect_port}/api", f"http://127.0.0.1:{mlflow_port}"
    server_ws = tmp_path / "server-ws"
    mark = uuid.uuid4().hex
    server_env = clean_env(
        FORGE_TEST_MARK=mark,
        PREFECT_HOME=str(tmp_path / "server-prefect-home"),
        FORGE_PREFECT_DATABASE_URL=postgres.url("prefect", "postgresql+asyncpg"),
        FORGE_MLFLOW_DATABASE_URL=postgres.url("mlflow"),  # a bare postgresql:// works too
        FORGE_MLFLOW_ADMIN_PASSWORD=ADMIN_PASSWORD,
        **bucket.environ(),  # the server's credentials for the bucket; clients never need them (proxied)
    )
    cmd = [FORGE, "server", "--workspace", str(server_ws), "--artifacts-destination", "s3://mlflow-artifacts/forge"]
    cmd += ["--prefect-port", str(prefect_port), "--mlflow-port", str(mlflow_port)]
    proc = subprocess.Popen(cmd, env=server_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = Output(proc)
    started: list[psutil.Process] = []
    commands: list[str] = []
    ini = server_ws / "server" / "mlflow-auth.ini"
    try:
        text = output.wait_for("Ctrl-C", proc, STARTUP_S)
        # What an analyst sees: both UIs, and the lines to paste into the shell that runs forge.
        assert f"export PREFECT_API_URL={prefect_api}" in text, text
        assert f"export MLFLOW_TRACKING_URI={mlflow_url}" in text
        assert f"export MLFLOW_TRACKING_USERNAME={ADMIN}" in text
        assert str(server_ws / "logs" / "server") in text

        started = psutil.Process(proc.pid).children(recursive=True)
        commands = [" ".join(p.cmdline()) for p in started]
        assert any("prefect server start" in c for c in commands), commands
        assert any("mlflow server" in c and "basic-auth" in c for c in commands), commands
        # MLflow's auth settings hold the admin's password: readable by the owner alone, and only while it runs.
        assert stat.S_IMODE(ini.stat().st_mode) == 0o600
        assert stat.S_IMODE((server_ws / "server").stat().st_mode) == 0o700

        # Sign-in is on: no credentials, or wrong ones, get 401 from the REST API.
        search = f"{mlflow_url}/api/2.0/mlflow/experiments/search?max_results=1"
        assert get_status(search) == 401
        assert get_status(search, (ADMIN, "not-the-password")) == 401
        assert get_status(search, (ADMIN, ADMIN_PASSWORD)) == 200

        # Another shell: the usual variables, and a workspace of its own that must stay free of records.
        home = tmp_path / "analyst"
        home.mkdir()
        (home / "quick.yaml").write_text(yaml.safe_dump(QUICK))
        run_env = clean_env(
            FORGE_TEST_MARK=mark,
            PREFECT_HOME=str(home / "prefect-home"),
            PREFECT_API_URL=prefect_api,
            MLFLOW_TRACKING_URI=mlflow_url,
            MLFLOW_TRACKING_USERNAME=ADMIN,
            MLFLOW_TRACKING_PASSWORD=ADMIN_PASSWORD,
        )
        args = ["run", str(SAMPLES / "corpus"), "--workspace", "ws", "--config", "quick.yaml", "--json"]
        done = subprocess.run([FORGE, *args], cwd=home, env=run_env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-4000:]
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result["tracking_uri"] == mlflow_url
        assert not (home / "ws" / "mlflow").exists() and not (home / "ws" / "prefect").exists()
        assert not (home / "mlruns").exists() and not (home / "mlartifacts").exists()

        # MLflow: the model version is registered, tagged with its flow run, its files behind the proxy.
        import mlflow
        from mlflow.tracking import MlflowClient

        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
        client = MlflowClient(tracking_uri=mlflow_url, registry_uri=mlflow_url)
        version = client.get_model_version(MODEL, result["model_version"])
        assert version.tags["dataset_id"] == result["dataset_id"]
        flow_run_id = version.tags["prefect_flow_run_id"]
        experiment = client.get_experiment(client.get_run(result["mlflow_run_id"]).info.experiment_id)
        assert experiment.artifact_location.startswith("mlflow-artifacts:")
        stored = client.get_model_version_download_uri(version.name, version.version)
        assert stored.startswith("mlflow-artifacts:"), stored
        local = mlflow.artifacts.download_artifacts(stored, dst_path=str(tmp_path / "dl"), tracking_uri=mlflow_url)
        assert (Path(local) / "MLmodel").is_file(), "the model's files did not come back through the proxy"
        stored_files = bucket.filesystem().find("mlflow-artifacts/forge")
        assert any(f.endswith("/model.safetensors") for f in stored_files)  # the server put them in the bucket

        # Prefect: the flow run finished, as its server reports it.
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: prefect_api}), get_client(sync_client=True) as prefect:
            flow_run = prefect.read_flow_run(uuid.UUID(flow_run_id))
            assert flow_run.state is not None and flow_run.state.is_completed(), flow_run.state
            assert prefect.read_flow(flow_run.flow_id).name == "forge-run"
            # The run's one-page story, linking its MLflow run on the tracking server.
            from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

            summary = prefect.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=["run-summary"]), flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id])
                )
            )
            assert len(summary) == 1 and f"{mlflow_url}/#/experiments/" in summary[0].data
            assert f"runs/{result['mlflow_run_id']})" in summary[0].data and result["dataset_id"] in summary[0].data

        # Both records live in PostgreSQL.
        runs = postgres.query("mlflow", f"SELECT status FROM runs WHERE run_uuid = '{result['mlflow_run_id']}'")
        assert runs == [("FINISHED",)]
        assert postgres.query("mlflow", f"SELECT count(*) FROM model_versions WHERE name = '{MODEL}'") == [(1,)]
        flow_runs = postgres.query("prefect", f"SELECT state_type FROM flow_run WHERE id = '{flow_run_id}'")
        assert flow_runs == [("COMPLETED",)]
        assert postgres.query("prefect", "SELECT count(*) FROM task_run")[0][0] > 0

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, output.text
    finally:
        if proc.poll() is None:  # the test failed midway: leave nothing running
            started = started or psutil.Process(proc.pid).children(recursive=True)
            proc.kill()
            proc.wait()
        # The servers' processes, and any orphan of forge server or forge run (reparented away from us).
        # A process caught in its last moments of exiting (its command line already gone) has 10 s to end.
        lingering = list({p.pid: p for p in [*started, *marked(mark)] if alive(p)}.values())
        survivors = [p for p in psutil.wait_procs(lingering, timeout=10)[1] if alive(p)]
        for p in survivors:
            p.kill()
    assert survivors == [], f"still running after forge server stopped: {[p.cmdline() for p in survivors]}"
    assert not ini.exists(), "the file holding the admin's password outlived the server"

    # No secret on a command line, in the terminal or in a server log.
    logs = "".join(p.read_text(errors="replace") for p in (server_ws / "logs" / "server").iterdir())
    for secret in (ADMIN_PASSWORD, postgres.password):
        assert secret not in output.text and secret not in logs
        assert not any(secret in c for c in commands)

    database = [psutil.Process(postgres.process.pid), *psutil.Process(postgres.process.pid).children(recursive=True)]
    postgres.process.send_signal(signal.SIGINT)
    postgres.process.wait(timeout=60)
    assert [p for p in database if alive(p)] == [], "PostgreSQL left processes behind"


def test_server_needs_the_admin_password_and_names_its_variable(tmp_path):
    env = {"FORGE_MLFLOW_ADMIN_PASSWORD": None, "FORGE_PREFECT_DATABASE_URL": None, "FORGE_MLFLOW_DATABASE_URL": None}
    result = CliRunner().invoke(app, ["server", "--workspace", str(tmp_path / "ws")], env=env)
    assert result.exit_code == 1
    assert "FORGE_MLFLOW_ADMIN_PASSWORD is not set" in result.output


def test_server_names_the_missing_database_variable(tmp_path):
    env = {"FORGE_MLFLOW_ADMIN_PASSWORD": ADMIN_PASSWORD, "FORGE_PREFECT_DATABASE_URL": None}
    result = CliRunner().invoke(app, ["server", "--workspace", str(tmp_path / "ws")], env=env)
    assert result.exit_code == 1
    assert "FORGE_PREFECT_DATABASE_URL is not set" in result.output and "postgresql+asyncpg://" in result.output


def test_server_refuses_one_database_for_both_and_masks_passwords_it_cannot_use(tmp_path):
    (port,) = free_ports(1)  # nothing listens there
    url = f"postgresql://forge:hunter2hunter2@127.0.0.1:{port}/forge"
    env = {"FORGE_MLFLOW_ADMIN_PASSWORD": ADMIN_PASSWORD, "FORGE_MLFLOW_DATABASE_URL": url}
    args = ["server", "--workspace", str(tmp_path / "ws")]
    shared = CliRunner().invoke(app, args, env={**env, "FORGE_PREFECT_DATABASE_URL": url})
    assert shared.exit_code == 1 and "need a database of their own" in shared.output, shared.output
    unreachable = CliRunner().invoke(app, args, env={**env, "FORGE_PREFECT_DATABASE_URL": url.replace("forge", "pf")})
    assert unreachable.exit_code == 1 and "cannot connect to prefect's database" in unreachable.output
    assert "hunter2hunter2" not in shared.output + unreachable.output
    assert not (tmp_path / "ws" / "logs" / "server").exists()  # nothing started


def test_server_listens_beyond_loopback_only_when_told_on_the_command_line(tmp_path):
    config = tmp_path / "forge.yaml"
    config.write_text("server:\n  host: 0.0.0.0\n")
    env = {"FORGE_MLFLOW_ADMIN_PASSWORD": None}
    args = ["server", "--workspace", str(tmp_path / "ws"), "--config", str(config)]
    refused = CliRunner().invoke(app, args, env=env)
    assert refused.exit_code == 1 and "forge server --host 0.0.0.0" in refused.output
    told = CliRunner().invoke(app, [*args, "--host", "0.0.0.0"], env=env)
    # Past the host check, with a warning; it stops at the next missing setting.
    assert "warning: listening on 0.0.0.0" in told.output and "FORGE_MLFLOW_ADMIN_PASSWORD" in told.output


def test_database_passwords_never_reach_a_dumped_config():
    cfg = ForgeConfig(server={"mlflow_database_url": "postgresql://forge:hunter2hunter2@db:5432/mlflow"})
    assert "hunter2hunter2" not in json.dumps(cfg.model_dump(mode="json"))  # flow parameters, config.yaml
    assert "hunter2hunter2" not in repr(cfg)


def test_auth_settings_file_is_private_and_keeps_every_character(tmp_path):
    import configparser

    path = tmp_path / "mlflow-auth.ini"
    write_auth_ini(path, ServerConfig(), ADMIN_PASSWORD, "sqlite:////tmp/a%20b/auth.db")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    parsed = configparser.ConfigParser()  # as MLflow reads it
    parsed.read(path)
    assert parsed["mlflow"]["admin_password"] == ADMIN_PASSWORD
    assert parsed["mlflow"]["database_uri"] == "sqlite:////tmp/a%20b/auth.db"
    assert parsed["mlflow"]["admin_username"] == "admin" and parsed["mlflow"]["default_permission"] == "READ"

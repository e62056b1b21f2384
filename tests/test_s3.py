"""A workspace in an S3 bucket: `forge curate` writes a dataset version there, through a real
S3-compatible server on loopback (moto's server mode), configured the way a user would: the
standard AWS_* environment variables, nothing Forge-specific."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from conftest import SAMPLES
from flow_runs import ledger, run_curate
from polars.testing import assert_frame_equal
from s3_server import s3_server

from forge_core.io.workspace import Workspace, WorkspaceError

BUCKET = "forge-test"
WORKSPACE = f"s3://{BUCKET}/ws"
CORPUS = SAMPLES / "corpus"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with s3_server(tmp_path_factory.mktemp("s3"), buckets=(BUCKET,)) as s:
        yield s


@pytest.fixture
def aws_env(server, monkeypatch):
    """This process configured like a user's shell for the bucket (for the in-process checks)."""
    import s3fs

    for key, value in server.environ().items():
        monkeypatch.setenv(key, value)
    s3fs.S3FileSystem.clear_instance_cache()  # an s3fs made under another environment must not be reused
    yield
    s3fs.S3FileSystem.clear_instance_cache()


def forge(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`forge` as a user runs it, with the user's environment plus `env` (as tests/test_cli.py)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AWS_"))}
    base["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
    cmd = [str(Path(sys.executable).parent / "forge"), *args]
    return subprocess.run(cmd, cwd=cwd, env=base | env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def s3_run(server, tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("s3-run")
    config = home / "forge.yaml"
    config.write_text("dask:\n  n_workers: 2\n")
    # A remote workspace cannot hold Prefect's database, so Prefect keeps its own default home;
    # here a temporary one rather than the developer's ~/.prefect.
    env = server.environ() | {"PREFECT_HOME": str(home / "prefect")}
    result = forge(
        "curate", str(CORPUS), "--workspace", WORKSPACE, "--config", str(config), "--json", cwd=home, env=env
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return {"summary": json.loads(result.stdout.strip().splitlines()[-1]), "env": env, "home": home}


@pytest.mark.slow
def test_curate_writes_the_dataset_version_into_the_bucket(server, s3_run):
    summary = s3_run["summary"]
    dataset = f"{BUCKET}/ws/datasets/{summary['dataset_id']}"
    assert summary["dataset"] == f"s3://{dataset}"
    assert summary["ledger"] == f"s3://{dataset}/ledger.parquet"
    fs = server.filesystem()
    names = {p.removeprefix(dataset + "/") for p in fs.find(dataset)}
    assert {"ledger.parquet", "manifest.json", "stats.json", "config.yaml", "report.md"} <= names
    assert {f"validation/{stage}.json" for stage in ("ingested", "cleaned", "deduplicated")} <= names
    shards = sorted(n for n in names if n.startswith("shards/"))
    assert shards and all(n.startswith("shards/part-") and n.endswith(".parquet") for n in shards)
    assert not [n for n in names if ".tmp-" in n]  # no temporary names left behind
    with fs.open(f"{dataset}/ledger.parquet", "rb") as f:
        rows = pl.read_parquet(f)
    assert rows.height == summary["counts"]["ingested"] == 334
    assert rows.filter(pl.col("status") == "kept").height == summary["counts"]["kept"]
    kept = pl.concat(pl.read_parquet(fs.open(f"{dataset}/{n}", "rb")) for n in shards)
    assert kept.height == summary["counts"]["kept"]
    assert not list(s3_run["home"].glob("forge-workspace"))  # nothing fell back to a local workspace


@pytest.mark.slow
def test_same_dataset_id_and_ledger_as_a_local_workspace(server, s3_run, tmp_path):
    """The workspace is where a version is stored, not what it is: same inputs, same id, same ledger."""
    local = run_curate([CORPUS], tmp_path / "ws")
    summary = s3_run["summary"]
    assert summary["code_version"] == local["code_version"], "forge_core changed while the test ran"
    assert summary["dataset_id"] == local["dataset_id"]
    assert summary["counts"] == local["counts"]
    with server.filesystem().open(summary["ledger"], "rb") as f:
        remote = pl.read_parquet(f)
    assert_frame_equal(remote, ledger(local))


@pytest.mark.slow
def test_dataset_list_finds_it_in_the_bucket(s3_run):
    summary, env, home = s3_run["summary"], s3_run["env"], s3_run["home"]
    listed = forge("dataset", "list", "--workspace", WORKSPACE, "--json", cwd=home, env=env)
    assert listed.returncode == 0, listed.stderr[-3000:]
    rows = json.loads(listed.stdout.strip().splitlines()[-1])["datasets"]
    assert [(r["dataset_id"], r["complete"], r["kept"]) for r in rows] == [
        (summary["dataset_id"], True, summary["counts"]["kept"])
    ]


@pytest.mark.slow
def test_a_rerun_reuses_the_finished_version_in_the_bucket(s3_run, aws_env):
    again = run_curate([CORPUS], WORKSPACE)
    assert again["reused"] is True
    assert again["dataset_id"] == s3_run["summary"]["dataset_id"]


def test_every_process_sees_what_the_others_wrote(server, aws_env):
    """A Dask worker lists a folder, another process writes into it, the worker looks again: it must
    see the new file (s3fs would otherwise answer exists() and glob() from its cached listing)."""
    ws = Workspace(WORKSPACE)
    folder = ws.path("cache", "listing-test")
    ws.write_text(f"{folder}/part-00000.parquet", "a")
    assert ws.fs.ls(folder, detail=False) == [f"{folder}/part-00000.parquet"]
    server.filesystem().pipe_file(f"{folder}/part-00001.parquet", b"b")  # another process's write
    assert ws.exists(f"{folder}/part-00001.parquet")
    assert len(ws.fs.glob(f"{folder}/part-*.parquet")) == 2


def test_a_missing_bucket_is_a_clear_error_and_is_not_created(server, aws_env):
    with pytest.raises(WorkspaceError, match="no-such-bucket"):
        Workspace("s3://no-such-bucket/ws")
    assert not server.filesystem().exists("no-such-bucket")

"""Operator errors as an operator meets them: `forge` from a shell ends with one `error:` line that
names the path or resource, exit status 1, no traceback, and nothing half-written left behind."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from forge.errors import DEBUG_ENV, explain, run_guarded

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data_samples" / "corpus"
QUICK = """tokenize: {vocab_size: 512}
train: {max_steps: 12, eval_every: 6, batch_size: 4, warmup_steps: 2}
eval: {max_batches: 4, samples: 2, max_new_tokens: 8}
registry: {model_name: forge-full}
dask: {n_workers: 2}
"""
ROOT_USER = os.geteuid() == 0


def forge(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "FORGE_"))}
    clean.pop("MLFLOW_TRACKING_URI", None)
    cmd = [str(Path(sys.executable).parent / "forge"), *args]
    return subprocess.run(cmd, env=clean | (env or {}), capture_output=True, text=True, timeout=600)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The run failed with exactly one `error:` line, last on stderr, and printed no traceback."""
    assert done.returncode == 1, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output[-4000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr[-4000:]
    assert done.stderr.rstrip().splitlines()[-1] == errors[0]
    return errors[0]


def test_a_missing_source(tmp_path: Path):
    line = one_error_line(forge("curate", str(tmp_path / "nowhere"), "--workspace", str(tmp_path / "ws")))
    assert line == f"error: {tmp_path / 'nowhere'}: no such file or folder"
    assert not (tmp_path / "ws" / "prefect").exists()  # found before any server started


def test_an_empty_folder(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    line = one_error_line(forge("run", str(tmp_path / "empty"), "--workspace", str(tmp_path / "ws")))
    assert line.startswith(f"error: no documents found in {tmp_path / 'empty'}")
    assert not (tmp_path / "ws" / "prefect").exists()


def test_no_readable_documents_names_the_reasons_and_leaves_no_dataset(tmp_path: Path):
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "scan.pdf").write_bytes(b"%PDF-1.4 not really")
    (junk / "blob.bin").write_bytes(bytes(range(256)) * 8)
    line = one_error_line(forge("curate", str(junk), "--workspace", str(tmp_path / "ws")))
    assert line.startswith(f"error: no readable documents in {junk}: 2 files, all quarantined (")
    assert "unreadable_pdf" in line
    datasets = tmp_path / "ws" / "datasets"
    assert not datasets.exists() or not list(datasets.iterdir())
    listed = forge("dataset", "list", "--workspace", str(tmp_path / "ws"), "--json")
    assert listed.returncode == 0 and '"datasets": []' in listed.stdout


def test_a_workspace_that_is_a_file(tmp_path: Path):
    (tmp_path / "ws").write_text("not a folder")
    line = one_error_line(forge("curate", str(CORPUS), "--workspace", str(tmp_path / "ws")))
    expected = f"error: workspace {tmp_path / 'ws'} is a file, not a folder"
    assert line == f"{expected}; give a folder (it is created if missing)"


@pytest.fixture
def read_only(tmp_path: Path):
    """A folder no write reaches: a read-only tmpfs (root ignores permission bits), else mode 0555."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if ROOT_USER:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], check=False)
        if mounted.returncode != 0:
            pytest.skip("running as root in a container that may not mount: cannot make a read-only folder")
        yield folder
        subprocess.run(["umount", "--lazy", str(folder)], check=False)
    else:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)


def test_a_workspace_that_cannot_be_written(read_only: Path):
    done = forge("run", str(CORPUS), "--workspace", str(read_only / "ws"))
    line = one_error_line(done)
    assert line.startswith(f"error: workspace {read_only / 'ws'} is not writable (")
    assert "fingerprint" not in done.stderr  # nothing started: the check comes before the config even loads
    done = forge("curate", str(CORPUS), "--workspace", str(read_only))  # the folder exists, but is read-only
    assert one_error_line(done).startswith(f"error: workspace {read_only} is not writable (")


def test_a_prefect_server_that_cannot_start(tmp_path: Path):
    (tmp_path / "ws" / "prefect" / "prefect.db").mkdir(parents=True)  # its database cannot be opened
    done = forge(
        "curate",
        str(CORPUS),
        "--workspace",
        str(tmp_path / "ws"),
        env={"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "10"},
    )
    line = one_error_line(done)
    assert line.startswith(f"error: the embedded Prefect server did not start (its database is in {tmp_path / 'ws'}")
    assert "(log: " in line and line.rstrip(")").split("(log: ")[-1].endswith(".log")


@pytest.mark.skipif(not ROOT_USER, reason="a small full disk is a tmpfs mount, which needs root")
def test_a_full_disk_during_training(tmp_path: Path):
    """12 MiB hold the curation, the stores and the token files, not the first checkpoint."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(disk)], check=False).returncode:
        pytest.skip("this container does not let root mount a tmpfs")
    try:
        (tmp_path / "quick.yaml").write_text(QUICK)
        ws = disk / "ws"
        done = forge("run", str(CORPUS), "--workspace", str(ws), "--config", str(tmp_path / "quick.yaml"))
        line = one_error_line(done)
        assert line.startswith(f"error: no space left on the device while writing {ws / 'training'}")
        assert ".partial (" in line and " free there; it needs about " in line, line
        assert not list(ws.rglob("*.partial"))  # the half-written checkpoint is gone
        with sqlite3.connect(ws / "mlflow" / "mlflow.db") as db:
            runs = dict(db.execute("select name, status from runs").fetchall())
        assert runs["forge-run"] == "FAILED" and runs["train"] == "FAILED", runs
        with sqlite3.connect(ws / "prefect" / "prefect.db") as db:
            states = [s for (s,) in db.execute("select state_type from flow_run")]
        assert "RUNNING" not in states and "FAILED" in states, states
    finally:
        subprocess.run(["umount", "--lazy", str(disk)], check=False)  # lazily: a server may still be exiting


# The boundary itself, in-process ------------------------------------------------------------------


def test_an_escaping_error_is_one_line_and_debug_shows_the_traceback(monkeypatch, capsys):
    def full() -> None:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/data/ws/cache/part.parquet")
        except OSError as e:
            raise RuntimeError("task failed") from e

    monkeypatch.delenv(DEBUG_ENV, raising=False)
    with pytest.raises(SystemExit) as exit_:
        run_guarded(full)
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: no space left on the device while writing /data/ws/cache/")
    monkeypatch.setenv(DEBUG_ENV, "1")
    with pytest.raises(RuntimeError, match="task failed"):
        run_guarded(full)


def test_an_unexpected_error_says_where_its_traceback_is():
    line = explain(KeyError("shard"), log=Path("/ws/logs/curate/x.log"))
    assert line == "unexpected KeyError: 'shard' (the traceback is in /ws/logs/curate/x.log)"
    assert "--debug" in explain(ValueError("bad\nsecond line"))

"""The `forge` command as a user types it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from documents import write
from typer.testing import CliRunner

from forge.cli import app
from forge_core.config import ForgeConfig, load_config

runner = CliRunner()


# Every command's --help: tests/test_structure.py walks the whole command tree.


def test_init_writes_a_config_that_loads_to_the_defaults(tmp_path):
    path = tmp_path / "forge.yaml"
    result = runner.invoke(app, ["init", str(path)])
    assert result.exit_code == 0
    assert load_config(path) == ForgeConfig()
    again = runner.invoke(app, ["init", str(path)])
    assert again.exit_code == 1
    assert "--force" in again.output


def test_curate_with_a_bad_config_names_the_key(tmp_path):
    path = tmp_path / "forge.yaml"
    path.write_text("dedup:\n  treshold: 0.9\n")
    result = runner.invoke(app, ["curate", str(tmp_path), "--config", str(path), "--workspace", str(tmp_path / "ws")])
    assert result.exit_code == 1
    assert "dedup.treshold: unknown key" in result.output


def forge(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """`forge ARGS` from a shell; by default with no Prefect settings, so it runs Prefect embedded."""
    if env is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
    cmd = [str(Path(sys.executable).parent / "forge"), *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_curate_json_from_a_shell_with_the_embedded_prefect(tmp_path):
    """No server to start: Prefect runs embedded, its database inside the workspace."""
    docs = tmp_path / "docs"
    topics = ["the night shift rota", "the spare sensor order", "the Lyon site visit"]
    memos = [
        f"This memo covers {topic}. Please read it before Friday and send questions to your team lead. "
        f"Memo {i} replaces every earlier note on the subject, and the attached plan lists who does what."
        for i, topic in enumerate(topics)
    ]
    for i, memo in enumerate(memos):
        write(docs / f"memo{i}.txt", memo)
    write(docs / "memo_copy.txt", memos[0])
    result = forge("curate", str(docs), "--workspace", "ws", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["counts"]["kept"] == 3 and last["counts"]["dropped"] == 1
    assert Path(last["ledger"]).is_file()
    assert last["dataset_id"].startswith("ds-")
    assert "kept" in result.stdout and "exact_duplicate" in result.stdout  # the readable summary
    assert (tmp_path / "ws" / "prefect" / "prefect.db").is_file()
    assert not (tmp_path / "mlruns").exists()

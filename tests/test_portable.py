"""A workspace copied and then moved elsewhere reads its own records and files, not the original's.

The copy is opened once where it was copied to, then moved, so the place its records were last
relocated to no longer exists: a command that still read from there would fail, and one that read
the original workspace would verify the original's ledger, not the copy's (one byte of the copy's
ledger is changed to tell them apart).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from mlflow.tracking import MlflowClient
from test_run import MODEL, run  # noqa: F401, F811  (run: test_run.py's fixture)
from typer.testing import CliRunner

from forge.cli import app
from forge_core.io.workspace import Workspace
from forge_core.lineage.tracking import use_workspace_tracking


def cli(*args: str) -> dict:
    out = CliRunner().invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout.strip().splitlines()[-1])


def lineage(workspace: Path) -> dict:
    return cli("lineage", "model", f"{MODEL}:1", "--workspace", str(workspace))


def test_a_copied_and_moved_workspace_reads_itself(run, tmp_path: Path):  # noqa: F811
    original = run["home"] / "ws"
    first = tmp_path / "first"
    shutil.copytree(original, first, symlinks=True)
    assert lineage(first)["dataset"]["path"].startswith(str(first))
    moved = tmp_path / "elsewhere" / "ws"
    moved.parent.mkdir()
    first.rename(moved)

    record = lineage(moved)
    assert record["dataset"]["path"].startswith(str(moved)) and record["dataset"]["ledger_matches_tag"]
    ledger = Path(record["dataset"]["path"]) / "ledger.parquet"
    data = bytearray(ledger.read_bytes())
    data[len(data) // 2] ^= 0xFF
    ledger.write_bytes(bytes(data))
    assert lineage(moved)["dataset"]["ledger_matches_tag"] is False  # the copy's ledger is the one checked
    assert lineage(original)["dataset"]["ledger_matches_tag"] is True  # and the original is untouched

    use_workspace_tracking(Workspace(str(moved)))
    client = MlflowClient()
    version = client.get_model_version(MODEL, "1")
    logged = client.get_logged_model(version.source.removeprefix("models:/")).artifact_location
    for location in (logged, client.get_run(version.run_id).info.artifact_uri):
        assert location.startswith(moved.as_uri()), location
    args = ["generate", f"{MODEL}:1", "The window", "--max-new-tokens", "4", "--workspace", str(moved)]
    generated = CliRunner().invoke(app, args)
    assert generated.exit_code == 0 and generated.stdout.startswith("The window"), generated.output
    text = tmp_path / "held-out.txt"
    text.write_text("Modbus timeouts on the line controllers are logged by the gateway.\n", encoding="utf-8")
    scored = cli("eval", f"{MODEL}:1", "--text", str(text), "--workspace", str(moved))
    assert scored["bits_per_byte"] > 0
    use_workspace_tracking(Workspace(str(original)))  # the module's other tests read the original

"""`forge verify` sees one changed byte in each kind of record: a shard, the ledger, a token file,
the weights, a journal entry; and a manifest or tag edited to match a changed file.

The run's workspace is copied first (it stays intact for the other modules); the copy reads
itself (forge_core/lineage/relocate.py), so its weights are the copy's own.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_run import MODEL, run  # noqa: F401, F811  (run: test_run.py's fixture)
from typer.testing import CliRunner

from forge.cli import app
from forge_core.io.workspace import Workspace
from forge_core.lineage.tracking import use_workspace_tracking


def verify(ws: Path) -> tuple[int, str, dict]:
    out = CliRunner().invoke(app, ["verify", "--workspace", str(ws), "--json"])
    lines = out.stdout.strip().splitlines()
    report = json.loads(next(line for line in reversed(lines) if line.startswith("{")))
    return out.exit_code, out.output, report


def flip(path: Path, offset: int | None = None) -> bytes:
    data = path.read_bytes()
    changed = bytearray(data)
    changed[len(data) // 2 if offset is None else offset] ^= 0x01
    path.write_bytes(bytes(changed))
    return data


@pytest.fixture(scope="module")
def copy(run, tmp_path_factory) -> Path:  # noqa: F811
    ws = tmp_path_factory.mktemp("verify") / "ws"
    shutil.copytree(run["home"] / "ws", ws, symlinks=True)
    yield ws
    use_workspace_tracking(Workspace(str(run["home"] / "ws")))  # the other modules read the original


def test_an_untouched_workspace_verifies(copy):
    code, output, report = verify(copy)
    assert code == 0, output
    assert report["ok"] and report["journal"]["entries"] >= 3  # publish, tokenize, register
    assert {e for e in report["models"]} == {f"{MODEL}:1"}
    assert all(not r["problems"] and not r["unchecked"] for r in report["datasets"].values())
    assert "chain intact" in output


def dataset(ws: Path) -> Path:
    [folder] = [d for d in (ws / "datasets").iterdir() if (d / "manifest.json").exists()]
    return folder


def weights(ws: Path) -> Path:
    [path] = list((ws / "mlflow" / "artifacts").rglob("artifacts/model.safetensors"))
    return path


KINDS = {
    "shard": (lambda ws: sorted((dataset(ws) / "shards").glob("*.parquet"))[0], "shards/part-"),
    "ledger": (lambda ws: dataset(ws) / "ledger.parquet", "ledger.parquet: sha256"),
    "token file": (lambda ws: sorted((dataset(ws) / "tokens").rglob("train.bin"))[0], "train.bin: sha256"),
    "weights": (weights, "model.safetensors: sha256"),
    "journal entry": (lambda ws: ws / "journal.jsonl", "does not hash to its recorded hash"),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_one_changed_byte_is_reported(copy, kind):
    locate, expected = KINDS[kind]
    path = locate(copy)
    offset = path.read_bytes().index(b'"dataset_id"') + 2 if kind == "journal entry" else None
    original = flip(path, offset)
    try:
        code, output, report = verify(copy)
    finally:
        path.write_bytes(original)
    assert code == 1 and not report["ok"], output
    mismatches = [line for line in output.splitlines() if "MISMATCH" in line]
    assert any(expected in line for line in mismatches), output
    assert any(line.startswith("error: ") and "mismatch" in line for line in output.splitlines()), output


def test_a_manifest_rewritten_to_match_an_edited_ledger_is_still_caught(copy):
    """Changing a file and its digest in the manifest together: the journal recorded the manifest."""
    from forge_core.integrity.digests import sha256_of

    folder = dataset(copy)
    ledger, manifest_path = folder / "ledger.parquet", folder / "manifest.json"
    saved = {p: p.read_bytes() for p in (ledger, manifest_path)}
    try:
        flip(ledger)
        manifest = json.loads(manifest_path.read_text())
        manifest["digests"]["ledger.parquet"] = sha256_of(Workspace(str(copy)), str(ledger))
        manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        code, output, _ = verify(copy)
    finally:
        for path, data in saved.items():
            path.write_bytes(data)
    assert code == 1 and "manifest.json: differs from the manifest its publish event recorded" in output, output
    assert f"{MODEL} version 1: the manifest of" in output  # and the model trained on it says so too

"""`forge erase` on a kept document of data_samples, in a copy of the session's `forge run`
workspace: the document is in no new dataset version, shard, token file or cache, its text and
hashes are nowhere in the workspace, the model version trained on it is held without aliases, and
a successor is retrained on the dataset without it."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest
from mlflow.tracking import MlflowClient
from test_run import KEPT, MODEL, run  # noqa: F401, F811  (run: test_run.py's fixture)
from typer.testing import CliRunner

from forge.cli import app
from forge_core.io.workspace import Workspace
from forge_core.lineage.tracking import use_workspace_tracking

REQUEST = "DSR-2026-0042"


def cli(*args: str) -> dict:
    out = CliRunner().invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def erased(run, tmp_path_factory) -> dict:  # noqa: F811
    ws = tmp_path_factory.mktemp("erase") / "ws"
    shutil.copytree(run["home"] / "ws", ws, symlinks=True)
    [dataset] = [d for d in (ws / "datasets").iterdir() if (d / "manifest.json").exists()]
    ledger = pl.read_parquet(dataset / "ledger.parquet")
    row = ledger.filter(pl.col("source_uri") == KEPT.resolve().as_uri()).to_dicts()[0]
    assert row["status"] == "kept"
    shard_text = pl.concat([pl.read_parquet(p) for p in (dataset / "shards").glob("*.parquet")])
    text = shard_text.filter(pl.col("doc_id") == row["doc_id"])["text"][0]
    args = ["erase", str(KEPT), "--request-id", REQUEST, "--reason", "the author asked", "--retrain"]
    record = cli(*args, "-w", str(ws))
    yield {"ws": ws, "old": dataset.name, "row": row, "text": text, "record": record}
    use_workspace_tracking(Workspace(str(run["home"] / "ws")))  # the other modules read the original


def test_the_new_dataset_version_lacks_the_document_and_reuses_the_other_shards(erased):
    ws, old, doc = erased["ws"], erased["old"], erased["row"]["doc_id"]
    new = erased["record"]["datasets"][old]
    folder = ws / "datasets" / new
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["erasure"]["request_id"] == REQUEST and manifest["erasure"]["documents_removed"] == 1
    assert "README.md" in manifest["digests"]  # its dataset card, vouched for like the rest
    assert (
        manifest["counts"]["kept"]
        == json.loads((ws / "datasets" / old / "manifest.json").read_text())["counts"]["kept"] - 1
    )
    assert doc not in pl.read_parquet(folder / "ledger.parquet")["doc_id"].to_list()
    for shard in (folder / "shards").glob("*.parquet"):
        assert doc not in pl.read_parquet(shard)["doc_id"].to_list()
    for index in (folder / "tokens").rglob("index.parquet"):  # the retrain tokenized the new version
        assert doc not in pl.read_parquet(index)["doc_id"].to_list()
    assert list((folder / "tokens").rglob("train.bin"))
    retired = ws / "datasets" / old
    assert sorted(p.name for p in retired.iterdir()) == ["config.yaml", "manifest.json", "superseded.json"]


def test_the_text_and_hashes_are_nowhere_in_the_workspace(erased):
    """Our own scan, independent of the command's: every file, Parquet column by column."""
    ws, row = erased["ws"], erased["row"]
    body = " ".join(erased["text"].split())
    needles = [row["doc_id"], row["raw_sha256"], body[:40], body[len(body) // 2 : len(body) // 2 + 40]]
    hits = []
    for path in (p for p in ws.rglob("*") if p.is_file() and "erasures" not in p.parts):
        if path.suffix == ".parquet":
            frame = pl.read_parquet(path)
            text = "\n".join(str(v) for c in frame.columns if frame[c].dtype == pl.String for v in frame[c].to_list())
            data = text.encode()
        else:
            data = path.read_bytes()
        hits += [f"{path.relative_to(ws)}: {n[:20]}" for n in needles if n.encode() in data]
    assert not hits, hits
    assert erased["record"]["scan"]["found_in"] == [] and erased["record"]["scan"]["files_scanned"] > 50
    for cache in (ws / "cache").rglob("*.parquet"):  # no stage's work holds it, nor a row naming it
        frame = pl.read_parquet(cache)
        for column in ("doc_id", "detail", "parent_doc_id"):
            assert column not in frame.columns or row["doc_id"] not in frame[column].to_list(), cache


def test_the_request_is_recorded_without_the_document(erased):
    ws, row = erased["ws"], erased["row"]
    saved = (ws / "erasures" / f"{REQUEST}.json").read_text()
    for identifier in (row["doc_id"], row["raw_sha256"], row["source_uri"], KEPT.name):
        assert identifier not in saved
    entries = [json.loads(line) for line in (ws / "journal.jsonl").read_text().splitlines()]
    assert entries[-1]["kind"] == "erase" and entries[-1]["request_id"] == REQUEST


def test_the_model_trained_on_it_is_held_and_a_successor_is_retrained(erased):
    use_workspace_tracking(Workspace(str(erased["ws"])))
    client = MlflowClient()
    held = client.get_model_version(MODEL, "1")
    assert held.tags["erasure_pending"] == REQUEST and held.aliases == []
    [successor] = [m for m in erased["record"]["successor_models"] if m["status"] == "retrained"]
    new = client.get_model_version(successor["model_name"], successor["model_version"])
    assert new.tags["dataset_id"] == erased["record"]["datasets"][erased["old"]]
    assert new.tags["erasure.replaces"] == f"{MODEL}:1"


def test_status_lineage_and_verify_after_the_erasure(erased):
    ws = str(erased["ws"])
    status = cli("erase", "--status", REQUEST, "-w", ws)
    assert status["pending"] == [] and any(line.startswith("scan: none of") for line in status["done"])
    lineage = CliRunner().invoke(app, ["lineage", "doc", erased["row"]["raw_sha256"], "-w", ws])
    assert f"erased by request {REQUEST}" in lineage.output, lineage.output
    verified = cli("verify", "-w", ws)
    assert verified["ok"], verified
    held = CliRunner().invoke(app, ["lineage", "model", f"{MODEL}:1", "-w", ws])
    assert held.exit_code == 1 and f"which erasure request {REQUEST} retired" in held.output, held.output

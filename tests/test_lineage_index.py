"""The lineage index gives `forge lineage doc` the answers a scan of every ledger gives, or is not used.

The small workspaces here are written the way publish writes a dataset version (the ledger, its
index, the manifest last), with row groups of a few rows so that lookups cross row-group
boundaries; the last test reads the index that `forge run` itself published.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from test_run import DUPLICATE, KEPT, run  # noqa: F401, F811  (run: test_run.py's fixture)
from typer.testing import CliRunner

from forge.cli import app
from forge_core import ledger as ledgers
from forge_core.identity import doc_id
from forge_core.io.workspace import Workspace
from forge_core.lineage import document_index
from forge_core.lineage.document_index import index_dataset, index_dir
from forge_core.lineage.queries import LineageError, doc_lineage
from forge_core.lineage.tracking import use_workspace_tracking
from forge_core.schema import LEDGER


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def uri_of(path: Path) -> str:
    return "file://" + str(path.resolve())  # as ingestion records a local file (fsspec's unstrip_protocol)


def row(uri: str, raw: str, status="kept", stage="dedup", reason=None, detail=None, similarity=None, id_=None):
    return {
        "doc_id": id_ or doc_id(uri, raw), "source_uri": uri, "raw_sha256": raw, "bytes": 100,
        "status": status, "stage": stage, "reason": reason, "detail": detail, "similarity": similarity,
    }  # fmt: skip


def versions(share: Path) -> list[list[dict]]:
    """Three dataset versions of a share that changes between runs, with every case an answer has:
    exact and near duplicates (one of a survivor missing from its version, one of a survivor whose
    doc_id is not hex), records of a CSV file, a file edited, a file moved, a file quarantined."""
    files = {
        "a.md": b"pump maintenance, every quarter",
        "copy-of-a.md": b"pump maintenance, every quarter",
        "near-a.md": b"pump maintenance, every quarter!",
        "prices.csv": b"item,price\npump,10\nvalve,3\n",
        "broken.pdf": b"%PDF-1.4 truncated",
        "edited.md": b"version two of the procedure",
        "moved/report.txt": b"the annual report",
    }
    for name, data in files.items():
        (share / name).parent.mkdir(parents=True, exist_ok=True)
        (share / name).write_bytes(data)
    uri = {name: uri_of(share / name) for name in files}
    h = {name: sha(data) for name, data in files.items()}
    a = row(uri["a.md"], h["a.md"])
    records = [row(f"{uri['prices.csv']}#row={i}", h["prices.csv"]) for i in (1, 2)]
    common = [
        a,
        row(uri["copy-of-a.md"], h["a.md"], "dropped", "dedup", "exact_duplicate", a["doc_id"], 1.0),
        row(uri["near-a.md"], h["near-a.md"], "dropped", "dedup", "near_duplicate", a["doc_id"], 0.91),
        *records,
        row(uri["broken.pdf"], h["broken.pdf"], "quarantined", "ingest", "unreadable_pdf", "PdfReadError: EOF"),
        row("file:///srv/manual/entry.txt", sha(b"manual"), id_="manual-entry-1"),
        row("file:///srv/manual/like.txt", sha(b"like"), "dropped", "dedup", "near_duplicate", "manual-entry-1", 0.8),
        row("file:///srv/gone.txt", sha(b"gone"), "dropped", "dedup", "exact_duplicate", "0123456789abcdef", 1.0),
    ]  # fmt: skip
    old_report = row(uri_of(share / "old" / "report.txt"), h["moved/report.txt"])  # moved to moved/ since
    bulk = [row(f"file:///srv/bulk/doc-{i:03d}.txt", sha(str(i).encode())) for i in range(40)]
    edited_before, edited = row(uri["edited.md"], sha(b"version one")), row(uri["edited.md"], h["edited.md"])
    return [
        [*common, old_report, edited_before, *bulk[:30]],
        [*common, old_report, edited, *bulk[5:35]],
        [*common, row(uri["moved/report.txt"], h["moved/report.txt"]), edited, *bulk[10:]],
    ]


def publish(ws: Workspace, dataset_id: str, rows: list[dict], created_at: str) -> None:
    """What publish_dataset does with a ledger: write it, index it, then the manifest."""
    ledger = pl.DataFrame(rows).with_columns(dataset_id=pl.lit(dataset_id))
    ledger = ledger.with_columns(pl.lit(None, pl.String).alias(c) for c in LEDGER.names if c not in ledger.columns)
    ledger = pl.from_arrow(ledger.select(LEDGER.names).to_arrow().cast(LEDGER)).sort("source_uri", "doc_id")
    ledgers.write_ledger(ws, f"{ws.dataset_dir(dataset_id)}/ledger.parquet", ledger)
    index_dataset(ws, dataset_id, ledger)
    ws.write_json(f"{ws.dataset_dir(dataset_id)}/manifest.json", {"dataset_id": dataset_id, "created_at": created_at})


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> str:
    """One empty MLflow store for the small workspaces: no model reached their documents."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow')}/mlflow.db"


@pytest.fixture
def workspace(tmp_path: Path, registry: str, monkeypatch) -> Workspace:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry)
    monkeypatch.setattr(document_index, "DOCUMENT_ROWS", 4)
    monkeypatch.setattr(document_index, "KEY_ROWS", 3)
    ws = Workspace(str(tmp_path / "ws"))
    use_workspace_tracking(ws)
    for i, rows in enumerate(versions(tmp_path / "share")):
        publish(ws, f"ds-{i:016x}", rows, f"2025-01-0{i + 1}T00:00:00+00:00")
    return ws


def every_ref(ws: Workspace, share: Path) -> list[str]:
    """Every doc_id, sha256 and URI of every ledger, and every file of the share by its path."""
    ledger = pl.concat([pl.read_parquet(p) for p in sorted(Path(ws.path("datasets")).glob("*/ledger.parquet"))])
    refs = {*ledger["doc_id"], *ledger["raw_sha256"], *ledger["source_uri"]}
    refs = {r for r in refs if r != "manual-entry-1"}  # not a doc_id a user can type (16 hex digits)
    return sorted(refs) + [str(p) for p in sorted(share.rglob("*")) if p.is_file()]


def both(ws: Workspace, ref: str) -> tuple[dict, dict]:
    return doc_lineage(ws, ref), doc_lineage(ws, ref, use_index=False)


def test_the_index_answers_as_a_scan_of_every_ledger(workspace, tmp_path):
    refs = every_ref(workspace, tmp_path / "share")
    for ref in refs:
        indexed, scanned = both(workspace, ref)
        assert indexed["index"] == "used" and scanned["index"] == "not used, scanned ledgers"
        assert indexed["datasets"] == scanned["datasets"], ref
        assert indexed["model_versions"] == scanned["model_versions"] == []
    copy = doc_lineage(workspace, str(tmp_path / "share" / "copy-of-a.md"))["datasets"]
    assert [a["duplicate_of"]["source_uri"] for a in copy] == [uri_of(tmp_path / "share" / "a.md")] * 3
    csv = doc_lineage(workspace, str(tmp_path / "share" / "prices.csv"))["datasets"]
    assert [a["source_uri"].rsplit("#", 1)[1] for a in csv] == ["row=1", "row=2"] * 3
    edited = doc_lineage(workspace, str(tmp_path / "share" / "edited.md"))["datasets"]
    assert len({a["doc_id"] for a in edited}) == 2  # the first version holds the file's first revision
    moved = doc_lineage(workspace, str(tmp_path / "share" / "moved" / "report.txt"))["datasets"]
    assert [a["source_uri"].endswith("/old/report.txt") for a in moved] == [True, True, False]  # by content
    similar = doc_lineage(workspace, "file:///srv/manual/like.txt")["datasets"]
    assert {a["duplicate_of"]["source_uri"] for a in similar} == {"file:///srv/manual/entry.txt"}
    gone = doc_lineage(workspace, "file:///srv/gone.txt")["datasets"]
    assert {a["duplicate_of"]["source_uri"] for a in gone} == {None}  # its survivor is in no ledger
    for use_index in (True, False):
        with pytest.raises(LineageError, match="no dataset version"):
            doc_lineage(workspace, "fedcba9876543210", use_index=use_index)


def test_a_version_without_an_index_or_with_a_changed_ledger_is_scanned_instead(workspace, tmp_path):
    ref = str(tmp_path / "share" / "copy-of-a.md")
    expected = doc_lineage(workspace, ref)["datasets"]
    ws_path = Path(workspace.root)
    (ws_path / "index" / "lineage" / "ds-0000000000000001" / "index.json").unlink()
    stale = doc_lineage(workspace, ref)
    assert (stale["index"], stale["datasets"]) == ("stale, scanned ledgers", expected)

    index_dataset(workspace, "ds-0000000000000001")
    assert doc_lineage(workspace, ref)["index"] == "used"
    ledger_path = ws_path / "datasets" / "ds-0000000000000002" / "ledger.parquet"
    ledger = pl.read_parquet(ledger_path)
    without = ledger.filter(pl.col("source_uri") != uri_of(tmp_path / "share" / "copy-of-a.md"))
    ledgers.write_ledger(workspace, str(ledger_path), without)  # rewritten since it was indexed
    changed = doc_lineage(workspace, expected[0]["doc_id"])  # by path, its copy's content would find a.md
    assert changed["index"] == "stale, scanned ledgers" and len(changed["datasets"]) == 2
    out = CliRunner().invoke(app, ["lineage", "doc", ref, "--workspace", str(ws_path)])
    assert out.exit_code == 0 and "forge lineage reindex" in out.output


def files_of(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha(p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()}


def reindex(ws: Workspace, *args: str) -> dict:
    out = CliRunner().invoke(app, ["lineage", "reindex", "--workspace", ws.root, "--json", *args])
    assert out.exit_code == 0, out.output
    assert "dataset versions indexed" in out.output
    return {d["dataset_id"]: d["action"] for d in json.loads(out.stdout.strip().splitlines()[-1])["datasets"]}


def test_reindex_builds_what_is_missing_and_is_idempotent(workspace, tmp_path):
    root = Path(workspace.root) / "index" / "lineage"
    published = files_of(root)
    shutil.rmtree(root)
    ref = str(tmp_path / "share" / "a.md")
    assert doc_lineage(workspace, ref)["index"] == "stale, scanned ledgers"

    assert set(reindex(workspace).values()) == {"indexed"}
    assert files_of(root) == published  # the same bytes as publish wrote
    assert set(reindex(workspace).values()) == {"up to date"}
    assert set(reindex(workspace, "--force").values()) == {"indexed"}
    assert files_of(root) == published
    assert doc_lineage(workspace, ref)["index"] == "used"


def test_a_deleted_dataset_version_leaves_the_answers_and_then_the_index(workspace, tmp_path):
    ref = str(tmp_path / "share" / "a.md")
    assert [a["dataset_id"] for a in doc_lineage(workspace, ref)["datasets"]] == [f"ds-{i:016x}" for i in range(3)]
    shutil.rmtree(workspace.dataset_dir("ds-0000000000000001"))
    answer = doc_lineage(workspace, ref)
    assert answer["index"] == "used"
    assert [a["dataset_id"] for a in answer["datasets"]] == ["ds-0000000000000000", "ds-0000000000000002"]
    assert reindex(workspace)["ds-0000000000000001"] == "dropped"
    assert not Path(index_dir(workspace, "ds-0000000000000001")).exists()
    assert doc_lineage(workspace, ref)["datasets"] == answer["datasets"]


def test_forge_run_publishes_the_index_and_it_answers_as_the_ledger(run):  # noqa: F811
    ws = Workspace(str(run["home"] / "ws"))
    use_workspace_tracking(ws)
    ledger = pl.read_parquet(run["ledger"])
    sample = ledger.filter(pl.col("reason").is_not_null() | (pl.int_range(pl.len()) % 10 == 0))
    refs = [str(KEPT), str(DUPLICATE), *sample["doc_id"], *sample["raw_sha256"].unique(maintain_order=True)]
    for ref in refs:
        indexed, scanned = both(ws, ref)
        assert indexed["index"] == "used", ref
        assert (indexed["datasets"], indexed["model_versions"]) == (scanned["datasets"], scanned["model_versions"]), ref

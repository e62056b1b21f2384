"""Where MLflow records go, and how lineage references are read."""

from __future__ import annotations

import os

import pytest

from forge_core.io.workspace import Workspace
from forge_core.lineage.queries import LineageError, document_filter, parse_model_ref
from forge_core.lineage.tracking import TrackingError, artifact_root, tracking_uri, use_workspace_tracking


def test_workspace_holds_the_store_unless_the_environment_names_a_server(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    ws = Workspace(str(tmp_path / "ws"))
    assert tracking_uri(ws) == f"sqlite:///{tmp_path}/ws/mlflow/mlflow.db"
    assert artifact_root(ws) == (tmp_path / "ws" / "mlflow" / "artifacts").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert tracking_uri(ws) == "http://127.0.0.1:5999" and artifact_root(ws) is None


def test_pointing_mlflow_at_one_workspace_does_not_leak_into_the_next(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    first, second = Workspace(str(tmp_path / "a")), Workspace(str(tmp_path / "b"))
    use_workspace_tracking(first)
    assert "MLFLOW_TRACKING_URI" not in os.environ  # MLflow exports it; Forge takes it back
    assert use_workspace_tracking(second) == f"sqlite:///{tmp_path}/b/mlflow/mlflow.db"


def test_an_object_store_workspace_asks_for_a_tracking_server(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    ws = Workspace("memory://forge-ws")
    with pytest.raises(TrackingError, match="set MLFLOW_TRACKING_URI"):
        tracking_uri(ws)


def test_model_references():
    assert parse_model_ref("forge-lm") == ("forge-lm", None, None)
    assert parse_model_ref("forge-lm:3") == ("forge-lm", "3", None)
    assert parse_model_ref("forge-lm@candidate") == ("forge-lm", None, "candidate")
    with pytest.raises(LineageError, match="must be a number"):
        parse_model_ref("forge-lm:latest")


def test_document_references(tmp_path):
    doc = tmp_path / "memo.txt"
    doc.write_text("hello")
    assert document_filter(str(doc))[1] == "path"
    assert document_filter("a" * 64)[1] == "sha256"
    assert document_filter("0123456789abcdef")[1] == "doc_id"
    with pytest.raises(LineageError, match="folder"):
        document_filter(str(tmp_path))
    with pytest.raises(LineageError, match="not an existing file"):
        document_filter("no/such/file.txt")


def test_forge_experiments_open_in_the_model_training_view(tmp_path, monkeypatch):
    """MLflow 3's UI reads the experiment's kind from a tag; without it the page opens on GenAI traces."""
    from mlflow.tracking import MlflowClient

    from forge_core.lineage.tracking import EXPERIMENT_KIND_TAG, ensure_experiment

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    ws = Workspace(str(tmp_path / "ws"))
    use_workspace_tracking(ws)
    client = MlflowClient()
    made = ensure_experiment(ws, "forge")
    assert client.get_experiment(made).tags[EXPERIMENT_KIND_TAG] == "custom_model_development"
    older = client.create_experiment("made-before-the-tag")  # as an earlier Forge left it
    chosen = client.create_experiment("chosen-by-hand", tags={EXPERIMENT_KIND_TAG: "finetuning"})
    assert ensure_experiment(ws, "made-before-the-tag") == older
    assert client.get_experiment(older).tags[EXPERIMENT_KIND_TAG] == "custom_model_development"
    ensure_experiment(ws, "chosen-by-hand")
    assert client.get_experiment(chosen).tags[EXPERIMENT_KIND_TAG] == "finetuning"

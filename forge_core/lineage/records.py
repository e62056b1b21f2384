"""What a `forge run` writes into MLflow, so an auditor can go from a model version to documents.

One parent run per pipeline run; nested runs for curate and train (nested = tagged with the
parent's id, which is what the MLflow UI groups by). The dataset version is an MLflow dataset
input whose digest is the dataset_id and whose source is the dataset version's folder. Runs are
addressed by id through MlflowClient, never through MLflow's thread-local "active run", because
the orchestrator may run the steps of one flow on different threads.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import fsspec
from mlflow.tracking import MlflowClient

from forge_core.identity import code_version
from forge_core.io.workspace import Workspace

PARENT_TAG = "mlflow.parentRunId"


def start_run(experiment_id: str, name: str, tags: dict[str, str], parent: str | None = None) -> str:
    """A new run (nested under parent when given); returns its id."""
    run_tags = {"mlflow.runName": name, **tags}
    if parent:
        run_tags[PARENT_TAG] = parent
    return MlflowClient().create_run(experiment_id, tags=run_tags, run_name=name).info.run_id


def end_run(run_id: str, failed: bool = False) -> None:
    MlflowClient().set_terminated(run_id, "FAILED" if failed else "FINISHED")


def git_commit() -> str | None:
    """The commit of the checkout Forge runs from, when it runs from one (None for an installed wheel)."""
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def file_digest(url: str) -> str:
    """sha256 of a file as published: an auditor can recompute it from the workspace."""
    h = hashlib.sha256()
    with fsspec.open(url, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def validation_status(validation: dict[str, Any]) -> str:
    """passed, failed, or skipped, over the stages' gates."""
    results = [v for v in validation.values() if v is not None]
    if not results:
        return "skipped"
    return "passed" if all(results) else "failed"


def lineage_tags(ws: Workspace, dataset: dict[str, Any], flow_run_id: str | None) -> dict[str, str]:
    """The tags that tie a run or model version to its dataset version, code and orchestration."""
    tags = {
        "dataset_id": dataset["dataset_id"],
        "ledger_digest": file_digest(ws.display(ledger_path(ws, dataset["dataset_id"]))),
        "forge_version": code_version(),
        "validation_status": validation_status(dataset.get("validation") or {}),
    }
    if commit := git_commit():
        tags["git_commit"] = commit
    if flow_run_id:
        tags["prefect_flow_run_id"] = flow_run_id
    return tags


def ledger_path(ws: Workspace, dataset_id: str) -> str:
    return f"{ws.dataset_dir(dataset_id)}/ledger.parquet"


def log_dataset_input(run_id: str, ws: Workspace, dataset_id: str, context: str) -> None:
    """Record the dataset version as an MLflow dataset input: digest = dataset_id, source = its folder."""
    from mlflow.data.dataset_source_registry import get_dataset_source_from_json
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import DatasetInput, InputTag

    # Named explicitly: MLflow's resolver finds two "local" source types for a path and warns.
    kind = "local" if ws.is_local else ws.fs.protocol if isinstance(ws.fs.protocol, str) else ws.fs.protocol[0]
    source = get_dataset_source_from_json(json.dumps({"uri": ws.display(ws.dataset_dir(dataset_id))}), kind)
    dataset = MetaDataset(source=source, name=dataset_id, digest=dataset_id)
    entity = DatasetInput(dataset._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", context)])
    MlflowClient().log_inputs(run_id, datasets=[entity])


def log_dataset_artifacts(run_id: str, ws: Workspace, dataset_id: str) -> None:
    """The ledger, stats, validation results and config of the dataset version, copied into the run."""
    client = MlflowClient()
    folder = ws.dataset_dir(dataset_id)
    for name in ("ledger.parquet", "stats.json", "config.yaml", "manifest.json", "report.md", "lengths.png"):
        if ws.exists(f"{folder}/{name}"):  # versions made by older code may lack the report
            client.log_artifact(run_id, f"{folder}/{name}", artifact_path="dataset")
    if ws.exists(f"{folder}/validation"):
        client.log_artifacts(run_id, f"{folder}/validation", artifact_path="dataset/validation")


def record_curation(
    experiment_id: str, parent: str, ws: Workspace, dataset: dict[str, Any], tags: dict[str, str]
) -> str:
    """A finished nested run 'curate' holding the dataset version's counts, input and artifacts."""
    run_id = start_run(experiment_id, "curate", tags, parent=parent)
    client = MlflowClient()
    c = dataset["counts"]
    for key in ("ingested", "kept", "dropped", "quarantined"):
        client.log_metric(run_id, f"documents_{key}", c[key])
    client.log_param(run_id, "sources", ", ".join(dataset.get("sources", [])))
    client.log_param(run_id, "files", dataset.get("files"))
    log_dataset_input(run_id, ws, dataset["dataset_id"], "curation")
    log_dataset_artifacts(run_id, ws, dataset["dataset_id"])
    end_run(run_id)
    return run_id


def flatten(prefix: str, value: Any) -> dict[str, Any]:
    """Nested config as MLflow params: train.learning_rate, eval.top_k, ..."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out |= flatten(f"{prefix}.{k}" if prefix else k, v)
        return out
    return {prefix: value}


def register_version(name: str, version: str, tags: dict[str, str], alias: str = "candidate") -> None:
    """Point the alias at the new version and tag it with its lineage."""
    client = MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, alias, version)


def set_tags(run_id: str, tags: dict[str, str]) -> None:
    from mlflow.entities import RunTag

    MlflowClient().log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])

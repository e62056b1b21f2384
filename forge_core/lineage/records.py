"""What a `forge run` writes into MLflow, so an auditor can go from a model version to documents.

One parent run per pipeline run; nested runs for curate and train (nested = tagged with the
parent's id, which is what the MLflow UI groups by). The dataset version is an MLflow dataset
input whose digest is the dataset_id and whose source is the dataset version's folder. The parent
also carries the headline (document counts, tokens, size, held-out bits per byte), the dataset
input and the registered model, since it is the run a user opens first; the run a model version
points to (train) holds the ledger as a table the UI previews, so a version's documents are one
click away. Runs are addressed by id through MlflowClient, never through MLflow's thread-local
"active run", because the orchestrator may run the steps of one flow on different threads.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
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
    log_document_counts(run_id, dataset)
    client.log_param(run_id, "sources", ", ".join(dataset.get("sources", [])))
    client.log_param(run_id, "files", dataset.get("files"))
    log_dataset_input(run_id, ws, dataset["dataset_id"], "curation")
    log_dataset_artifacts(run_id, ws, dataset["dataset_id"])
    end_run(run_id)
    return run_id


def now_ms() -> int:
    return int(time.time() * 1000)


def log_document_counts(run_id: str, dataset: dict[str, Any]) -> None:
    """documents_ingested, _kept, _dropped and _quarantined: the dataset version's ledger in four numbers."""
    from mlflow.entities import Metric

    c, now = dataset["counts"], now_ms()
    metrics = [Metric(f"documents_{key}", c[key], now, 0) for key in ("ingested", "kept", "dropped", "quarantined")]
    MlflowClient().log_batch(run_id, metrics=metrics)


def record_run_dataset(run_id: str, ws: Workspace, dataset: dict[str, Any]) -> None:
    """The parent run's half from curation: the document counts and the dataset version as its input.

    The parent repeats what its children hold so that the run a user opens first (the only one
    the runs table shows unfolded) answers "which documents, how many kept" without a click.
    """
    log_document_counts(run_id, dataset)
    MlflowClient().log_param(run_id, "dataset_id", dataset["dataset_id"])
    log_dataset_input(run_id, ws, dataset["dataset_id"], "training")


def record_run_model(run_id: str, tokens: dict[str, Any], result: dict[str, Any], registered: dict[str, Any]) -> None:
    """The parent run's half from training: tokens, size, held-out bits per byte, and the model version.

    The registered version is linked as the run's output model (MLflow 3 shows it under the run's
    logged models, with its registered versions) and named in tags, which every MLflow shows.
    """
    from mlflow.entities import LoggedModelOutput, Metric, Param, RunTag

    client = MlflowClient()
    final, now = result["final"], now_ms()
    metrics = [Metric("parameters", result["parameters"], now, 0)]
    metrics += [Metric(f"eval_{k}", float(final[k]), now, result["steps"]) for k in ("val_loss", "val_bpb")]
    params = [Param(f"{split}_tokens", str(tokens[split]["tokens"])) for split in ("train", "val")]
    name, version = registered["model_name"], registered["model_version"]
    tags = [
        RunTag("registered_model_name", name),
        RunTag("registered_model_version", str(version)),
        RunTag("registered_model_uri", f"models:/{name}/{version}"),
    ]
    client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
    if model_id := logged_model_id(client.get_model_version(name, str(version))):
        client.log_outputs(run_id, [LoggedModelOutput(model_id, 0)])  # step 0, as log_model links its own run


def logged_model_id(version: Any) -> str | None:
    """The MLflow 3 logged model a registered version was made from, or None (a version from a run's
    files). The SQL store leaves ModelVersion.model_id empty; the source `models:/m-<id>` names it."""
    if version.model_id:
        return version.model_id
    source = version.source or ""
    return source.removeprefix("models:/") if source.startswith("models:/m-") else None


# The ledger as a table MLflow's UI previews. Bounded: the UI loads the whole file into the page.
LEDGER_TABLE_ROWS = 10_000
LEDGER_TABLE_COLUMNS = ["doc_id", "source_uri", "status", "stage", "reason", "detail"]


def log_ledger_table(run_id: str, ws: Workspace, dataset_id: str, max_rows: int = LEDGER_TABLE_ROWS) -> str:
    """The ledger's rows (doc_id, source_uri, status, stage, reason, detail) as an MLflow table.

    dataset/ledger.json when the whole ledger fits in max_rows; otherwise its first max_rows rows
    as dataset/ledger-first-<max_rows>-of-<rows>.json, so the name says it is cut. The full ledger
    stays ledger.parquet (the curate run's artifact, digest in the ledger_digest tag). Returns
    the artifact's path, also kept in the run's tag ledger_table.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    with ws.fs.open(ledger_path(ws, dataset_id), "rb") as f:
        ledger = pq.ParquetFile(f)
        total, batches, n = ledger.metadata.num_rows, [], 0
        # Only the rows shown are read: a ledger of millions of documents stays on disk.
        for batch in ledger.iter_batches(batch_size=max_rows, columns=LEDGER_TABLE_COLUMNS):
            if n >= max_rows:
                break
            batches.append(batch)
            n += batch.num_rows
        schema = pa.schema([ledger.schema_arrow.field(c) for c in LEDGER_TABLE_COLUMNS])
    table = pa.Table.from_batches(batches, schema).slice(0, max_rows)
    path = "dataset/ledger.json" if total <= max_rows else f"dataset/ledger-first-{max_rows}-of-{total}.json"
    client = MlflowClient()
    client.log_table(run_id, table.to_pandas(), path)
    client.set_tag(run_id, "ledger_table", path)
    return path


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

"""forge run: raw documents to a registered model version, with the lineage to trace it back."""

from __future__ import annotations

import os
import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from flows.curate import curate
from forge_core.config import ForgeConfig
from forge_core.executor import open_cluster
from forge_core.identity import code_version
from forge_core.io.workspace import Workspace
from forge_core.lineage import records
from forge_core.lineage.tracking import ML_VIEW, ensure_experiment, use_workspace_tracking
from forge_core.report import summary_markdown
from tasks.artifacts import describe_cluster
from tasks.tokenize import tokenize_dataset
from tasks.train import register_model, train_language_model


@flow(name="forge-run", log_prints=True)
def forge_run(sources: list[str], config: ForgeConfig | None = None) -> dict[str, Any]:
    """Curate SOURCES, tokenize, train, evaluate and register; one MLflow parent run records it all.

    One Dask cluster serves curation and tokenization; it is closed before training, which runs
    in this process and needs the memory.
    """
    start = time.perf_counter()
    cfg = config or ForgeConfig()
    ws = Workspace(cfg.workspace)
    log = get_run_logger()
    tracking_uri = use_workspace_tracking(ws)
    experiment_id = ensure_experiment(ws, cfg.registry.experiment)
    flow_run_id = str(flow_run.id) if flow_run.id else None
    parent = records.start_run(
        experiment_id, "forge-run", {"forge_version": code_version(), "prefect_flow_run_id": flow_run_id or ""}
    )
    try:
        base = None
        if cfg.train.base:
            from forge_core.interop.bases import resolve_base

            base = resolve_base(cfg.train.base)
            log.info("continuing pretraining of %s version %s", base["name"], base["version"])
        with open_cluster(cfg.dask) as client:
            describe_cluster(client)
            dataset = curate(
                sources=sources,
                config=cfg,
                cluster=client.scheduler.address,
                base_tokenizer_sha256=base["tokenizer_sha256"] if base else None,
            )
            if dataset.get("kind") == "chat":
                raise ValueError(
                    f"the sources are conversations (dataset {dataset['dataset_id']} is of kind chat): fine-tune a "
                    "registered model on them with `forge finetune MODEL SOURCE...`"
                )
            tags = records.lineage_tags(ws, dataset, flow_run_id)
            records.set_tags(parent, tags)
            records.record_run_dataset(parent, ws, dataset)
            records.record_curation(experiment_id, parent, ws, dataset, tags)
            tokens = tokenize_dataset(ws, cfg, client, dataset["dataset_id"], base)
        if base:
            tags |= base["lineage"]
            records.set_tags(parent, base["lineage"])
        trained = train_language_model(ws, cfg, tokens, experiment_id, parent, tags, base)
        # On the run the model version points to: from the version to its documents in one click.
        records.log_ledger_table(trained["run_id"], ws, dataset["dataset_id"])
        registered = register_model(cfg, trained, tags)
        records.record_run_model(parent, tokens, trained["result"], registered)
    except BaseException:
        records.end_run(parent, failed=True)
        raise
    records.end_run(parent)
    result = trained["result"]
    log.info("registered %s version %s", registered["model_name"], registered["model_version"])
    publish_curve(result, f"{cfg.train.preset}: {result['parameters']:,} parameters", trained["run_id"])
    create_markdown_artifact(
        key="run-summary",
        markdown=run_markdown(dataset, result, registered, mlflow_run_link(tracking_uri, experiment_id, parent)),
        description=f"{dataset['dataset_id']} -> {registered['model_name']} v{registered['model_version']}",
    )
    return {
        **{k: dataset[k] for k in ("dataset_id", "dataset", "ledger", "counts", "files", "validation")},
        "dataset_reused": dataset.get("reused", False),
        "tokens": {split: tokens[split]["tokens"] for split in ("train", "val")},
        "vocab_size": tokens["vocab_size"],
        "parameters": result["parameters"],
        "steps": result["steps"],
        "precision": result["precision"],
        "initial_val_bpb": round(result["initial"]["val_bpb"], 4),
        "val_loss": round(result["final"]["val_loss"], 4),
        "val_bpb": round(result["final"]["val_bpb"], 4),
        "perplexity": round(result["final"]["perplexity"], 2),
        "mlflow_run_id": parent,
        "train_run_id": trained["run_id"],
        "tracking_uri": tracking_uri,
        **registered,
        "samples": trained["samples"],
        "seconds": round(time.perf_counter() - start, 2),
    }


def publish_curve(result: dict[str, Any], title: str, train_run_id: str) -> None:
    """The training curve in the Prefect UI too, not only as the train run's loss.png in MLflow."""
    from forge_core.train.curve import curve_markdown  # imports torch: only once training has

    create_markdown_artifact(
        key="training-curve", markdown=curve_markdown(result["curve"], title), description=train_run_id
    )


def mlflow_ui_url(tracking_uri: str) -> str | None:
    """The MLflow UI's address: FORGE_MLFLOW_UI_URL (the UI `forge ui` serves over the workspace's
    SQLite store), else an http(s) tracking server, whose UI is at its own address."""
    for url in (os.environ.get("FORGE_MLFLOW_UI_URL", ""), tracking_uri):
        if url.startswith(("http://", "https://")):
            return url.rstrip("/")
    return None


def mlflow_run_link(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    """A Markdown link to the run in the MLflow UI, and one to its experiment's runs in the model
    training view (ML_VIEW); where no UI address is known, where the run is kept."""
    ui = mlflow_ui_url(tracking_uri)
    if ui is None:
        return f"MLflow run `{run_id}` in `{tracking_uri}` (browse it with `forge ui`)"
    experiment = f"{ui}/#/experiments/{experiment_id}"
    return f"[MLflow run {run_id}]({experiment}/runs/{run_id}) ([all runs]({experiment}/runs?{ML_VIEW}))"


def run_markdown(dataset: dict[str, Any], result: dict[str, Any], registered: dict[str, Any], mlflow_link: str) -> str:
    """The story of one `forge run` on one page: documents to dataset to model, and where the records are."""
    gates = dataset.get("validation") or {}
    final, initial = result["final"], result["initial"]
    lines = [
        f"# forge run: {registered['model_name']} version {registered['model_version']}",
        "",
        f"Dataset `{dataset['dataset_id']}` → model `models:/{registered['model_name']}/{registered['model_version']}`"
        f" (alias `candidate`). {mlflow_link}.",
        "",
        "## Validation gates",
        "",
        "| stage | result |",
        "| --- | --- |",
        *(f"| {stage} | {'passed' if ok else 'skipped' if ok is None else 'FAILED'} |" for stage, ok in gates.items()),
        "",
        "## Model",
        "",
        f"{result['parameters']:,} parameters, {result['steps']} steps on {result['world_size']} x "
        f"{result['device_name']} ({result['precision']}), {result['tokens_per_s']:,.0f} tokens/s. "
        f"Validation bits per byte {final['val_bpb']:.3f} (untrained {initial['val_bpb']:.3f}).",
        "",
        summary_markdown(dataset).replace("# Dataset", "## Dataset", 1),
    ]
    return "\n".join(lines)

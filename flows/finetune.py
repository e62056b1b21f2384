"""finetune: a registered model and a folder of conversations become an assistant, registered with
the lineage of both."""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows.curate import curate
from forge_core.config import ForgeConfig
from forge_core.executor import open_cluster
from forge_core.identity import code_version
from forge_core.io.workspace import Workspace
from forge_core.lineage import records
from forge_core.lineage.tracking import ensure_experiment, use_workspace_tracking
from tasks.finetune import finetune_model, load_parent
from tasks.train import register_model


@flow(name="finetune", log_prints=True)
def finetune(model: str, sources: list[str], config: ForgeConfig | None = None) -> dict[str, Any]:
    """Curate SOURCES as a chat dataset, fine-tune MODEL (NAME[:VERSION|@ALIAS]) on it, measure the
    held-out loss before and after, and register the result as a new version whose tags name the
    parent version and the chat dataset version."""
    start = time.perf_counter()
    cfg = config or ForgeConfig()
    ws = Workspace(cfg.workspace)
    log = get_run_logger()
    tracking_uri = use_workspace_tracking(ws)
    experiment_id = ensure_experiment(ws, cfg.registry.experiment)
    flow_run_id = str(flow_run.id) if flow_run.id else None
    run = records.start_run(
        experiment_id, "finetune", {"forge_version": code_version(), "prefect_flow_run_id": flow_run_id or ""}
    )
    try:
        parent = load_parent(model)
        with open_cluster(cfg.dask) as client:
            dataset = curate(sources=sources, config=cfg, cluster=client.scheduler.address)
        if dataset.get("kind") != "chat":
            raise ValueError(
                f"{', '.join(sources)}: no conversations (dataset {dataset['dataset_id']} is of kind "
                f"{dataset.get('kind', 'documents')}); fine-tuning reads JSONL files of messages or prompt/completion"
            )
        tags = records.lineage_tags(ws, dataset, flow_run_id) | parent["lineage"]
        tags |= {"forge.kind": "finetune", "finetune.method": "lora" if cfg.finetune.lora else "full"}
        records.set_tags(run, tags)
        records.record_curation(experiment_id, run, ws, dataset, tags)
        tuned = finetune_model(ws, cfg, parent, dataset["dataset_id"], experiment_id, run, tags)
        registered = register_model(cfg, tuned, tags)
    except BaseException:
        records.end_run(run, failed=True)
        raise
    records.end_run(run)
    result = tuned["result"]
    log.info("registered %s version %s", registered["model_name"], registered["model_version"])
    return {
        **{k: dataset[k] for k in ("dataset_id", "dataset", "ledger", "counts", "files", "validation")},
        "dataset_reused": dataset.get("reused", False),
        "parent": f"{parent['name']}:{parent['version']}",
        "method": result["method"],
        "train_conversations": result["train_conversations"],
        "val_conversations": result["val_conversations"],
        "steps": result["steps"],
        "trainable_parameters": result["trainable_parameters"],
        "heldout_loss_before": result["heldout_loss_before"],
        "heldout_loss_after": result["heldout_loss_after"],
        "template": parent["spec"].origin,
        "samples": tuned["samples"],
        "mlflow_run_id": run,
        "finetune_run_id": tuned["run_id"],
        "tracking_uri": tracking_uri,
        **registered,
        "seconds": round(time.perf_counter() - start, 2),
    }

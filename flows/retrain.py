"""Retraining after an erasure: the same training configuration on the dataset version without the
erased documents, registered as the successor of the version it replaces.

The configuration is the one the held version's training run recorded (config/resolved.yaml), so
the successor differs from it only by the documents removed. A version fine-tuned from a held one
is not retrained here (its conversations are another dataset): the request's status lists it as
pending, to fine-tune again from the successor.
"""

from __future__ import annotations

from typing import Any

import yaml
from mlflow.tracking import MlflowClient
from prefect.runtime import flow_run

from forge_core.config import ForgeConfig
from forge_core.executor import open_cluster
from forge_core.io.workspace import Workspace
from forge_core.lineage import records
from forge_core.lineage.tracking import ensure_experiment
from tasks.tokenize import tokenize_dataset
from tasks.train import register_model, train_language_model


def retrain_successors(
    ws: Workspace, cfg: ForgeConfig, held: list[dict[str, Any]], successors: dict[str, str | None]
) -> list[dict[str, Any]]:
    """One successor per held version trained directly on an affected dataset version."""
    client = MlflowClient()
    done = []
    for version in held:
        old_dataset = version.get("dataset_id")
        if version.get("via") or old_dataset not in successors or not successors[old_dataset]:
            done.append({"replaces": f"{version['name']}:{version['version']}", "status": "pending: fine-tune again"})
            continue
        mv = client.get_model_version(version["name"], version["version"])
        resolved = client.download_artifacts(mv.run_id, "config/resolved.yaml")
        with open(resolved, encoding="utf-8") as f:
            recorded = yaml.safe_load(f)
        run_cfg = ForgeConfig.model_validate({**recorded, "workspace": cfg.workspace})
        run_cfg.registry.model_name = version["name"]
        new_dataset = successors[old_dataset]
        dataset = ws.read_json(f"{ws.dataset_dir(new_dataset)}/manifest.json")
        base = None
        if run_cfg.train.base:
            from forge_core.interop.bases import resolve_base

            base = resolve_base(run_cfg.train.base)
        experiment_id = ensure_experiment(ws, run_cfg.registry.experiment)
        flow_run_id = str(flow_run.id) if flow_run.id else None
        tags = records.lineage_tags(ws, dataset, flow_run_id) | {
            "erasure.replaces": f"{version['name']}:{version['version']}",
        }
        if base:
            tags |= base["lineage"]
        with open_cluster(run_cfg.dask) as client_dask:
            tokens = tokenize_dataset(ws, run_cfg, client_dask, new_dataset, base)
        trained = train_language_model(ws, run_cfg, tokens, experiment_id, None, tags, base)
        registered = register_model(run_cfg, trained, tags)
        done.append({"replaces": f"{version['name']}:{version['version']}", "status": "retrained"} | registered)
    return done

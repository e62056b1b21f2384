"""erase: act on an erasure request for documents that went into dataset and model versions.

The order matters. What to look for is read before anything is deleted (the scan needs the text it
must not find); the successors are built before the old versions are retired (they are built
from them); the models are held before anything is retrained; the scan runs last, over the whole
workspace. The request's record is written first, updated as each step finishes, so `forge
erase --status ID` shows where a crashed request stopped.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import polars as pl
from prefect import flow, get_run_logger

from forge_core.config import ForgeConfig
from forge_core.erasure import holds, matching, rebuild, request, scrub
from forge_core.integrity import journal
from forge_core.io.workspace import Workspace
from forge_core.lineage.document_index import drop_index, index_dataset
from forge_core.lineage.tracking import use_workspace_tracking


@flow(name="erase", log_prints=True)
def erase(
    locators: list[str],
    request_id: str,
    reason: str,
    near_duplicates: bool = False,
    retrain: bool = False,
    config: ForgeConfig | None = None,
) -> dict[str, Any]:
    """Remove the documents LOCATORS name (path, sha256 or doc_id) from every dataset version, hold
    the models trained on them, delete their content from the workspace and prove it with a scan."""
    cfg = config or ForgeConfig()
    ws = Workspace(cfg.workspace)
    if not ws.is_local:
        raise request.ErasureError(f"workspace {ws.url}: erasure needs a local workspace (it scans every file)")
    log = get_run_logger()
    use_workspace_tracking(ws)
    if ws.exists(request.record_path(ws, request_id)):
        raise request.ErasureError(f"request {request_id} is already recorded: `forge erase --status {request_id}`")
    rows = matching.find(ws, locators, near_duplicates)
    if rows.is_empty():
        raise request.ErasureError(
            f"no dataset version in {ws.display(ws.path('datasets'))} holds {', '.join(locators)}"
        )
    secret = request.key(ws)
    erased, shas = set(rows["doc_id"].to_list()), set(rows["raw_sha256"].to_list())
    needles = scrub.needles(ws, erased, shas)  # before anything is deleted
    affected = sorted(set(rows["dataset_id"].to_list()))
    kept_in = set(rows.filter(pl.col("status") == "kept")["dataset_id"].to_list())
    record: dict[str, Any] = {
        "request_id": request_id,
        "received_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "reason": reason,
        "near_duplicates": near_duplicates,
        "retrain": retrain,
        "matched": {
            "documents": len(erased),
            "keyed_doc_ids": sorted(request.keyed(secret, d) for d in erased),
            "keyed_sha256": sorted(request.keyed(secret, s) for s in shas),
            "by_status": dict(sorted(rows.group_by("status").len().iter_rows())),
        },
        "datasets": {d: None for d in affected},
        "steps": {},
    }
    request.save(ws, record)
    log.info("erasure %s: %d documents in %d dataset versions", request_id, len(erased), len(affected))

    for dataset_id in affected:
        record["datasets"][dataset_id] = rebuild.rebuild(ws, dataset_id, erased, request_id)["dataset_id"]
    record["steps"]["successors_built"] = True
    request.save(ws, record)

    record["held_models"] = holds.hold(kept_in, request_id)
    record["steps"]["models_held"] = True
    request.save(ws, record)

    artifacts = run_artifact_dirs(set(affected))
    record["deleted"] = {"run_artifacts": len(scrub.delete_run_artifacts(artifacts, needles))}
    for dataset_id in affected:
        rebuild.retire(ws, dataset_id, record["datasets"][dataset_id], request_id)
        drop_index(ws, dataset_id)  # the lineage index held its rows: the successor's replace them
        index_dataset(ws, record["datasets"][dataset_id])
    record["deleted"]["cache_folders"] = len(scrub.delete_caches(ws, erased))
    record["deleted"]["database_cells"] = sum(
        scrub.scrub_sqlite(db, needles) for db in sorted(Path(ws.root).rglob("*.db"))
    )
    record["steps"]["content_deleted"] = True
    request.save(ws, record)

    if retrain:
        from flows.retrain import retrain_successors

        record["successor_models"] = retrain_successors(ws, cfg, record["held_models"], record["datasets"])
        record["steps"]["retrained"] = True
        request.save(ws, record)

    record["scan"] = scrub.scan(ws, needles)
    record["steps"]["scanned"] = True
    record["completed_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    entry = journal.append(
        ws,
        "erase",
        request_id=request_id,
        documents=len(erased),
        keyed_doc_ids=record["matched"]["keyed_doc_ids"],
        datasets=record["datasets"],
        held=[f"{m['name']}:{m['version']}" for m in record["held_models"]],
    )
    record["journal_seq"] = entry["seq"]
    request.save(ws, record)
    return record


def run_artifact_dirs(dataset_ids: set[str]) -> list[Path]:
    """The local artifact folders of every MLflow run tagged with one of the dataset versions."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    experiments = [e.experiment_id for e in client.search_experiments()]
    folders = []
    for run in client.search_runs(experiments, max_results=50000) if experiments else []:
        tags = run.data.tags
        if tags.get("dataset_id") in dataset_ids or tags.get("parent.dataset_id") in dataset_ids:
            uri = run.info.artifact_uri
            if uri.startswith("file:"):
                folders.append(Path(unquote(urlparse(uri).path)))
    return [f for f in folders if f.exists() and os.access(f, os.W_OK)]

"""`forge erase`: act on an erasure request, and report on one."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from forge.crashes import mark_crashed_runs, owned_runs
from forge.options import (
    ConfigOpt,
    JsonOpt,
    WorkspaceOpt,
    emit_json,
    fail,
    open_tracking,
    print_log_path,
    resolve_config,
    use_workspace_stores,
)
from forge.runlog import settle_logs

app = typer.Typer()


@app.command()
def erase(
    locators: Annotated[
        list[str] | None, typer.Argument(metavar="LOCATOR...", help="Documents: a path, a sha256 or a doc_id.")
    ] = None,
    request_id: Annotated[
        str | None, typer.Option("--request-id", help="The request's id (letters, digits, . _ -).")
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why, as the request states it.")] = None,
    with_near_duplicates: Annotated[
        bool, typer.Option("--with-near-duplicates", help="Also every member of the documents' duplicate clusters.")
    ] = False,
    retrain: Annotated[
        bool, typer.Option("--retrain", help="Train each held model again, same config, on the new dataset version.")
    ] = False,
    status: Annotated[
        str | None, typer.Option("--status", metavar="ID", help="Report what is done and pending for request ID.")
    ] = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Erase documents from every dataset version that kept them (GDPR Art. 17).

    Builds each affected dataset version again without them (reusing every untouched shard), tags
    the model versions trained on them `erasure_pending` and removes their aliases, optionally
    retrains them, deletes the documents' content from the workspace (shards, token files, caches,
    records that quote them) and scans every file to prove it. The request is recorded with keyed
    hashes, never the documents' text or identifiers.
    """
    from forge_core.erasure.request import ErasureError

    if status:
        ws = open_tracking(resolve_config(config, workspace))
        try:
            report = status_report(ws, status)
        except ErasureError as e:
            fail(str(e))
        print_status(report)
        if as_json:
            emit_json(report)
        return
    if not locators or not request_id or not reason:
        fail("name the documents (LOCATOR...) and give --request-id and --reason (or --status ID)")
    cfg = resolve_config(config, workspace)
    use_workspace_stores(cfg)
    from flows.erase import erase as erase_flow
    from forge_core.lineage.queries import LineageError

    open_tracking(cfg)
    settle_logs(training=retrain)
    mark_crashed_runs(mlflow=True)
    with owned_runs():
        try:
            record = erase_flow(
                locators=list(locators),
                request_id=request_id,
                reason=reason,
                near_duplicates=with_near_duplicates,
                retrain=retrain,
                config=cfg,
            )
        except (ErasureError, LineageError) as e:
            fail(str(e))
    print_status(status_report(open_tracking(cfg), request_id))
    print_log_path()
    if as_json:
        emit_json(record)


def status_report(ws: Any, request_id: str) -> dict[str, Any]:
    """What the request's record says was done, checked against the workspace and the registry now."""
    from mlflow.tracking import MlflowClient

    from forge_core.erasure import request

    record = request.load(ws, request_id)
    client = MlflowClient()
    done, pending = [], []
    for old, new in (record.get("datasets") or {}).items():
        if new and ws.exists(f"{ws.dataset_dir(new)}/manifest.json"):
            done.append(f"dataset {old} replaced by {new}")
        else:
            pending.append(f"dataset {old}: no successor yet")
        if not ws.exists(f"{ws.dataset_dir(old)}/superseded.json"):
            pending.append(f"dataset {old}: not yet retired (its content is still there)")
    for model in record.get("held_models") or []:
        version = client.get_model_version(model["name"], model["version"])
        held = version.tags.get("erasure_pending") == request_id and not version.aliases
        line = f"model {model['name']}:{model['version']} held (erasure_pending, no aliases)"
        done.append(line) if held else pending.append(f"model {model['name']}:{model['version']}: not held")
    for successor in record.get("successor_models") or []:
        if successor["status"] == "retrained":
            done.append(
                f"model {successor['replaces']} retrained as {successor['model_name']}:{successor['model_version']}"
            )
        else:
            pending.append(f"model {successor['replaces']}: {successor['status']}")
    if not record.get("retrain") and record.get("held_models"):
        pending.append("retraining: not asked (`--retrain`); the held versions serve no alias meanwhile")
    scan = record.get("scan")
    if scan is None:
        pending.append("the scan of the workspace has not run (the request did not finish: run it again)")
    elif scan["found_in"]:
        pending.append(f"the scan still found the content in: {', '.join(scan['found_in'])}")
    else:
        done.append(f"scan: none of {scan['needles']} traces found in {scan['files_scanned']} files")
    return {
        "request_id": request_id,
        "received_at": record.get("received_at"),
        "completed_at": record.get("completed_at"),
        "reason": record.get("reason"),
        "documents": record.get("matched", {}).get("documents"),
        "done": done,
        "pending": pending,
    }


def print_status(report: dict[str, Any]) -> None:
    typer.echo(
        f"erasure request {report['request_id']} ({report['documents']} documents; received {report['received_at']}"
        + (f", completed {report['completed_at']})" if report["completed_at"] else ", not completed)")
    )
    typer.echo(f"reason: {report['reason']}")
    for line in report["done"]:
        typer.echo(f"  done     {line}")
    for line in report["pending"]:
        typer.echo(f"  PENDING  {line}")

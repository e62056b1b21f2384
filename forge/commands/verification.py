"""`forge verify`: recompute every digest the workspace's records hold, offline, and list mismatches."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from forge.options import ConfigOpt, JsonOpt, WorkspaceOpt, emit_json, fail, open_tracking, resolve_config

app = typer.Typer()


@app.command()
def verify(
    ref: Annotated[
        str | None,
        typer.Argument(metavar="[NAME[:VERSION|@ALIAS]]", help="One model version and its dataset (default: all)."),
    ] = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check that no record was altered: dataset files against their manifests, weights against their
    registration, manifests and tags against the journal, and the journal's hash chain.

    Exits 1 when anything differs, listing each mismatch by file or record.
    """
    from forge_core.integrity.verify import verify_workspace
    from forge_core.lineage.queries import LineageError, all_model_versions, complete_datasets, resolve_model

    ws = open_tracking(resolve_config(config, workspace))
    try:
        versions = [resolve_model(ref)] if ref else all_model_versions()
    except LineageError as e:
        fail(str(e))
    if ref:
        dataset_id = dict(versions[0].tags).get("dataset_id")
        datasets = [dataset_id] if dataset_id and ws.exists(f"{ws.dataset_dir(dataset_id)}/manifest.json") else []
    else:
        datasets = complete_datasets(ws, retired=True)
    report = verify_workspace(ws, versions, datasets)
    print_report(report)
    if as_json:
        emit_json(report)
    if not report["ok"]:
        n = len(report["journal"]["problems"]) + sum(
            len(r["problems"]) for part in ("datasets", "models") for r in report[part].values()
        )
        fail(f"{n} mismatch{'es' if n != 1 else ''} between the records and the files (listed above)")


def print_report(report: dict[str, Any]) -> None:
    journal = report["journal"]
    status = "intact" if not journal["problems"] else f"{len(journal['problems'])} broken"
    typer.echo(f"journal: {journal['entries']} entries verified, chain {status}")
    for line in journal["problems"]:
        typer.echo(f"  MISMATCH {line}")
    for part, label in (("datasets", "dataset"), ("models", "model")):
        for key, result in report[part].items():
            state = "ok" if not result["problems"] else f"{len(result['problems'])} mismatches"
            if result["unchecked"] and not result["problems"]:
                state = "not checkable"
            typer.echo(f"{label} {key}: {state}")
            for line in result["problems"]:
                typer.echo(f"  MISMATCH {line}")
            for line in result["unchecked"]:
                typer.echo(f"  unchecked: {line}")

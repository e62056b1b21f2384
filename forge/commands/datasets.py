"""Documents to a dataset version and on to a model: `forge curate`, `forge run`, `forge dataset`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from forge.crashes import owned_runs
from forge.options import (
    ConfigOpt,
    DaskAddressOpt,
    JsonOpt,
    SourcesArg,
    WorkspaceOpt,
    emit_json,
    fail,
    open_tracking,
    open_workspace,
    prepare_flow_run,
    print_log_path,
)
from forge.runlog import settle_logs
from forge.startup import overlapped_start

app = typer.Typer()


@app.command()
def curate(
    sources: SourcesArg,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    dask_address: DaskAddressOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest, clean, deduplicate and validate SOURCES into a dataset version.

    The same inputs, config and code give the same dataset_id, and a rerun reuses finished work.
    """
    cfg = prepare_flow_run(sources, config, workspace, dask_address)
    from flows.curate import curate as curate_flow
    from forge_core.config import ConfigError
    from forge_core.io.sources import SourceError
    from forge_core.validate import ValidationFailed

    settle_logs()
    with overlapped_start(cfg), owned_runs():
        try:
            result = curate_flow(sources=sources, config=cfg)
        except (
            SourceError,
            ValidationFailed,
            ConfigError,
            ValueError,
        ) as e:  # ValueError: conversations mixed with documents
            fail(str(e))
    print_summary(result)
    print_log_path()
    if as_json:
        emit_json(result)


@app.command()
def run(
    sources: SourcesArg,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    dask_address: DaskAddressOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Curate SOURCES, train a tokenizer and a model on the result, evaluate it and register it in MLflow.

    MLflow records go to the workspace (SQLite store and artifact folder) unless MLFLOW_TRACKING_URI
    is set. The new model version gets the alias `candidate` and tags naming its dataset version.
    """
    cfg = prepare_flow_run(sources, config, workspace, dask_address)
    from flows.run import forge_run
    from forge_core.config import ConfigError
    from forge_core.io.sources import SourceError
    from forge_core.lineage.tracking import TrackingError
    from forge_core.validate import ValidationFailed

    open_tracking(cfg)
    settle_logs(training=True)
    with overlapped_start(cfg, mlflow=True), owned_runs():
        try:
            result = forge_run(sources=sources, config=cfg)
        except (SourceError, ValidationFailed, ConfigError, TrackingError, ValueError) as e:
            fail(str(e))
    print_summary(result)
    print_training(result)
    print_log_path()
    if as_json:
        emit_json(result)


dataset_app = typer.Typer(help="List, inspect and export the dataset versions of a workspace.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")


@dataset_app.command("list")
def dataset_list(
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every dataset version in the workspace, newest first, with its counts and validation status."""
    from rich.console import Console
    from rich.table import Table

    from forge_core.catalog import list_datasets

    rows = list_datasets(open_workspace(workspace, config))
    table = Table(title=f"{len(rows)} dataset versions")
    for column in ("dataset", "created", "kept", "dropped", "quarantined", "validation", "tokenized", "sources"):
        table.add_column(column, justify="right" if column in ("kept", "dropped", "quarantined") else "left")
    for r in rows:
        if not r["complete"]:
            state = f"failed: {r['failed']}" if r.get("failed") else "unfinished"
            table.add_row(r["dataset_id"], state, "", "", "", "", "", "")
            continue
        table.add_row(
            r["dataset_id"], r["created_at"], str(r["kept"]), str(r["dropped"]), str(r["quarantined"]),
            r["validation"], "yes" if r["tokenized"] else "no", ", ".join(r["sources"]),
        )  # fmt: skip
    # Piped output has no terminal width: do not squeeze ids and dates into 80 columns.
    Console(soft_wrap=True, width=None if sys.stdout.isatty() else 180).print(table)
    if as_json:
        emit_json({"datasets": rows})


@dataset_app.command("show")
def dataset_show(
    dataset_id: Annotated[str, typer.Argument(metavar="DATASET_ID")],
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A dataset version's counts (per step and by reason), languages, PII, validation status and config."""
    import yaml
    from rich.console import Console

    from forge_core.catalog import DatasetNotFound, show_dataset

    try:
        d = show_dataset(open_workspace(workspace, config), dataset_id)
    except DatasetNotFound as e:
        fail(str(e))
    console = Console(soft_wrap=True)
    console.print(f"[bold]dataset {d['dataset_id']}[/bold]  {d['path']}  (created {d['created_at']})")
    console.print(f"sources: {', '.join(d['sources'])} ({d['files']} files); code {d['code_version']}")
    console.print(f"validation: {d['validation']['status']}")
    print_summary({**d, "counts": d["counts"], "ledger": f"{d['path']}/ledger.parquet", "dataset": d["path"]})
    if d["report"]:
        console.print(f"report:  {d['report']}")
    console.print("config:")
    console.print(yaml.safe_dump(d["config"], sort_keys=False), markup=False, highlight=False)
    if as_json:
        emit_json(d)


@dataset_app.command("export")
def dataset_export(
    dataset_id: Annotated[str, typer.Argument(metavar="DATASET_ID")],
    out: Annotated[Path, typer.Option("--out", "-o", help="JSONL file to write.")],
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write the kept documents as JSONL (doc_id, source_uri, text, language, ...): the curated corpus,
    ready for any other training tool."""
    from forge_core.catalog import DatasetNotFound, export_dataset

    try:
        n = export_dataset(open_workspace(workspace, config), dataset_id, out)
    except DatasetNotFound as e:
        fail(str(e))
    typer.echo(f"wrote {n} documents of {dataset_id} to {out}")


def print_summary(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    c = result["counts"]
    table = Table(title=f"dataset {result['dataset_id']}" + (" (reused)" if result.get("reused") else ""))
    for column in ("status", "stage", "reason", "documents"):
        table.add_column(column, justify="right" if column == "documents" else "left")
    table.add_row("kept", "", "", str(c["kept"]), style="green")
    for where, reasons in c["by_reason"].items():
        status, _, stage = where.partition(".")
        for reason, n in reasons.items():
            table.add_row(status, stage, reason, str(n))
    console = Console(soft_wrap=True)
    console.print(table)
    console.print(
        f"{c['ingested']} documents from {result['files']} files: {c['kept']} kept, {c['dropped']} dropped, "
        f"{c['quarantined']} quarantined" + (f" in {result['seconds']} s" if "seconds" in result else "")
    )
    if result.get("phases"):  # where the time went (also in stats.json, the report and Prefect)
        console.print("time:    " + ", ".join(f"{name} {s:.1f} s" for name, s in result["phases"].items()))
    console.print(f"ledger:  {result['ledger']}")
    console.print(f"dataset: {result['dataset']}")


def print_training(result: dict[str, Any]) -> None:
    from rich.console import Console

    console = Console(soft_wrap=True)
    tokens = result["tokens"]
    console.print(
        f"tokens:  {tokens['train']:,} train, {tokens['val']:,} validation (vocabulary {result['vocab_size']:,})"
    )
    console.print(
        f"model:   {result['parameters']:,} parameters, {result['steps']} steps ({result['precision']}); "
        f"validation loss {result['val_loss']:.3f}, {result['val_bpb']:.3f} bits per byte "
        f"(untrained: {result['initial_val_bpb']:.3f})"
    )
    console.print(f"mlflow:  run {result['mlflow_run_id']} at {result['tracking_uri']}")
    console.print(
        f"registered: {result['model_name']} version {result['model_version']} "
        f"(models:/{result['model_name']}@candidate)"
    )

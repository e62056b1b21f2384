"""The `forge` command. Heavy libraries (Prefect, Dask, Great Expectations) load only inside the
command that needs them, so `forge --help` answers at once."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from forge_core import __version__
from forge_core.config import ConfigError, ForgeConfig, default_config_yaml, load_config
from forge_core.io.sources import SourceError

app = typer.Typer(
    name="forge",
    help="Build your own language model from your own documents, on your own machines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

WorkspaceOpt = Annotated[
    str | None, typer.Option("--workspace", "-w", help="Workspace folder or fsspec URL (default ./forge-workspace).")
]
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML config file (see `forge init`).")]
SourcesArg = Annotated[list[str], typer.Argument(help="Files or folders of documents (recursed).")]
DaskAddressOpt = Annotated[
    str | None,
    typer.Option("--dask-address", help="Scheduler of an existing Dask cluster, e.g. tcp://127.0.0.1:8786."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="End stdout with one JSON line of the result.")]


def emit_json(obj: Any) -> None:
    """The --json contract: the last line of stdout is one JSON object."""
    sys.stdout.write(json.dumps(obj, default=str) + "\n")


def fail(message: str, code: int = 1) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def resolve_config(config: Path | None, workspace: str | None) -> ForgeConfig:
    try:
        return load_config(config, workspace=workspace)
    except ConfigError as e:
        fail(str(e))
        raise  # unreachable: fail() exits


def workspace_of(cfg: ForgeConfig) -> Any:
    """The configured workspace; a missing bucket is a clear error, not a traceback."""
    from forge_core.io.workspace import Workspace, WorkspaceError

    try:
        return Workspace(cfg.workspace)
    except WorkspaceError as e:
        fail(str(e))


def use_workspace_stores(cfg: ForgeConfig) -> None:
    """Embedded mode: Prefect's database lives in the workspace, so a workspace keeps its runs.

    Must run before Prefect is imported. A PREFECT_API_URL in the environment wins: then runs go
    to that server. The ephemeral server can take over 20 s to start on a loaded 2-core machine,
    so its start-up timeout is raised unless the user set one.
    """
    if os.environ.get("PREFECT_API_URL"):
        return
    ws = workspace_of(cfg)
    if ws.is_local:
        os.environ.setdefault("PREFECT_HOME", ws.prefect_home())
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


@app.callback()
def main() -> None:
    """Forge: documents to dataset versions to registered models, with a ledger and lineage for every file."""


@app.command()
def version() -> None:
    """Print Forge's version and the hash of its code (the code version recorded in datasets)."""
    from forge_core.identity import code_version

    typer.echo(f"forge {__version__} (code {code_version()})")


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the config.")] = Path("forge.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented config file holding every setting with its default."""
    if path.exists() and not force:
        fail(f"{path} exists; use --force to overwrite it")
    path.write_text(default_config_yaml(), encoding="utf-8")
    typer.echo(f"wrote {path}; edit it, then: forge run SOURCE... --config {path}")


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
    cfg = resolve_config(config, workspace)
    if dask_address:
        cfg.dask.address = dask_address
    use_workspace_stores(cfg)
    from flows.curate import curate as curate_flow
    from forge_core.validate import ValidationFailed

    try:
        result = curate_flow(sources=sources, config=cfg)
    except (SourceError, ValidationFailed, ConfigError) as e:
        fail(str(e))
    print_summary(result)
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
    cfg = resolve_config(config, workspace)
    if dask_address:
        cfg.dask.address = dask_address
    use_workspace_stores(cfg)
    from flows.run import forge_run
    from forge_core.lineage.tracking import TrackingError
    from forge_core.validate import ValidationFailed

    try:
        result = forge_run(sources=sources, config=cfg)
    except (SourceError, ValidationFailed, ConfigError, TrackingError, ValueError) as e:
        fail(str(e))
    print_summary(result)
    print_training(result)
    if as_json:
        emit_json(result)


dataset_app = typer.Typer(help="List, inspect and export the dataset versions of a workspace.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")


def open_workspace(workspace: str | None, config: Path | None) -> Any:
    return workspace_of(resolve_config(config, workspace))


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
            table.add_row(r["dataset_id"], "unfinished", "", "", "", "", "", "")
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


lineage_app = typer.Typer(
    help="Trace a model version back to its documents, or a document forward to every model it reached.",
    no_args_is_help=True,
)
app.add_typer(lineage_app, name="lineage")


def open_tracking(cfg: ForgeConfig) -> Any:
    """The workspace and MLflow pointed at its stores, as `forge run` uses them."""
    from forge_core.lineage.tracking import TrackingError, use_workspace_tracking

    ws = workspace_of(cfg)
    try:
        use_workspace_tracking(ws)
    except TrackingError as e:
        fail(str(e))
    return ws


@lineage_app.command("model")
def lineage_model(
    ref: Annotated[str, typer.Argument(metavar="NAME[:VERSION|@ALIAS]", help="Registered model (newest version).")],
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    documents: Annotated[bool, typer.Option("--documents", help="List every kept doc_id with its source.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """A model version's dataset version, sources, document counts by status and reason, validation
    results, training config and metrics."""
    from forge_core.lineage.queries import LineageError, model_lineage
    from forge_core.lineage.tables import print_model_lineage

    ws = open_tracking(resolve_config(config, workspace))
    try:
        answer = model_lineage(ws, ref, documents=documents)
    except (LineageError, FileNotFoundError) as e:
        fail(str(e))
    print_model_lineage(answer)
    if as_json:
        emit_json(answer)


@lineage_app.command("doc")
def lineage_doc(
    ref: Annotated[str, typer.Argument(metavar="PATH|SHA256|DOC_ID", help="A source file, its sha256, or a doc_id.")],
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every dataset version that saw a document, its status and reason in each (for a duplicate, the
    document it duplicates), and every model version trained on a dataset where it was kept."""
    from forge_core.lineage.queries import LineageError, doc_lineage
    from forge_core.lineage.tables import print_doc_lineage

    ws = open_tracking(resolve_config(config, workspace))
    try:
        answer = doc_lineage(ws, ref)
    except LineageError as e:
        fail(str(e))
    print_doc_lineage(answer)
    if as_json:
        emit_json(answer)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
def train(ctx: typer.Context) -> None:
    """Train on a dataset version's token files, standalone (torch, lightning, numpy); see `forge train --help`.

    Checkpoints, exact --resume, DDP/FSDP across GPUs and nodes (under torchrun or srun), a
    wall-clock budget (--max-time), MLflow logging when MLflow is installed.
    """
    from forge_core.train.command import main as train_main

    raise typer.Exit(train_main(list(ctx.args)))


@app.command("eval")
def eval_model(
    ref: Annotated[str, typer.Argument(metavar="NAME[:VERSION|@ALIAS]", help="Registered model (newest version).")],
    text: Annotated[Path, typer.Option("--text", help="A UTF-8 text file to score, e.g. held-out documents.")],
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Windows per forward pass.")] = 8,
    as_json: JsonOpt = False,
) -> None:
    """Bits per byte (and loss per token) of a registered model on a text file of your own."""
    import mlflow

    from forge_core.lineage.queries import LineageError, resolve_model
    from forge_core.tokenize import EOT
    from forge_core.train.evaluate import score_tokens

    try:
        content = text.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        fail(f"{text}: cannot read as UTF-8 text ({e})")
    open_tracking(resolve_config(config, workspace))
    try:
        mv = resolve_model(ref)
    except LineageError as e:
        fail(str(e))
    loaded = mlflow.pyfunc.load_model(f"models:/{mv.name}/{mv.version}").unwrap_python_model()
    ids = loaded.tokenizer.encode(content, add_special_tokens=False).ids
    try:
        scores = score_tokens(
            loaded.model, ids, len(content.encode("utf-8")), loaded.tokenizer.token_to_id(EOT), batch_size
        )
    except ValueError as e:
        fail(f"{text}: {e}")
    typer.echo(
        f"{mv.name} version {mv.version} on {text}: {scores['bits_per_byte']:.4f} bits per byte, "
        f"{scores['loss_per_token']:.4f} nats per token ({scores['tokens']:,} tokens, {scores['bytes']:,} bytes)"
    )
    if as_json:
        emit_json({"model_name": mv.name, "model_version": str(mv.version), "text": str(text), **scores})


def prefect_server_url() -> str:
    """Deployments live on a Prefect server that keeps running: refuse the embedded one."""
    url = os.environ.get("PREFECT_API_URL")
    if not url:
        fail(
            "no Prefect server: start one (`forge server`, or `forge ui` over a workspace) and "
            "export PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    return url or ""


@app.command()
def schedule(
    sources: SourcesArg,
    cron: Annotated[str | None, typer.Option("--cron", help='Cron schedule, e.g. "0 2 * * *" (02:00 daily).')] = None,
    interval: Annotated[float | None, typer.Option("--interval", min=1, help="Or: every this many seconds.")] = None,
    flow: Annotated[str, typer.Option("--flow", help="curate (to a dataset version) or run (to a model).")] = "curate",
    name: Annotated[str | None, typer.Option("--name", help="Deployment name [default: nightly].")] = None,
    pool: Annotated[str, typer.Option("--pool", help="Process work pool that `forge worker` polls.")] = "forge",
    timezone: Annotated[
        str | None, typer.Option("--timezone", help="Time zone of the cron, e.g. Europe/Berlin.")
    ] = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create or update a scheduled deployment of `forge curate` (or `forge run`) of SOURCES.

    The deployment carries the sources and the resolved config as parameters; `forge worker`
    runs it when it is due. Needs a Prefect server (PREFECT_API_URL).
    """
    cfg = resolve_config(config, workspace)
    prefect_server_url()
    from flows.deploy import schedule as deploy

    try:
        result = deploy(
            flow, sources, cfg, name or "nightly", cron=cron, interval=interval, pool=pool, timezone=timezone
        )
    except ValueError as e:
        fail(str(e))
    typer.echo(
        f"deployment {result['deployment']} ({result['schedule']}) on work pool {result['work_pool']}: "
        f"{len(result['sources'])} sources into {result['workspace']}; run it with `forge worker --pool {pool}`"
    )
    if as_json:
        emit_json(result)


@app.command()
def worker(
    pool: Annotated[str, typer.Option("--pool", help="Process work pool to poll.")] = "forge",
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Most flow runs at once.")] = None,
    run_once: Annotated[bool, typer.Option("--run-once", help="Run what is due, then exit.")] = False,
    healthcheck: Annotated[
        bool, typer.Option("--with-healthcheck", help="Serve Prefect's worker health endpoint (for probes).")
    ] = False,
) -> None:
    """Run scheduled Forge flow runs: Prefect's process worker on a work pool (PREFECT_API_URL)."""
    prefect_server_url()
    command = [str(Path(sys.executable).parent / "prefect"), "worker", "start", "--pool", pool, "--type", "process"]
    command += ["--limit", str(limit)] if limit else []
    command += ["--run-once"] if run_once else []
    command += ["--with-healthcheck"] if healthcheck else []
    os.execv(command[0], command)  # the worker is this process: signals and exit codes are its own


@app.command()
def generate(
    ref: Annotated[str, typer.Argument(metavar="NAME[:VERSION|@ALIAS]", help="Registered model (newest version).")],
    prompt: Annotated[str, typer.Argument(help="Text to continue.")],
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1)] = 64,
    temperature: Annotated[float, typer.Option("--temperature", min=0.0, help="0 is greedy.")] = 0.8,
    top_k: Annotated[int, typer.Option("--top-k", min=0, help="0 samples from every token.")] = 50,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Load a registered model version from MLflow and print its continuation of PROMPT."""
    import mlflow
    import pandas as pd

    from forge_core.lineage.queries import LineageError, resolve_model

    open_tracking(resolve_config(config, workspace))
    try:
        mv = resolve_model(ref)
    except LineageError as e:
        fail(str(e))
    model = mlflow.pyfunc.load_model(f"models:/{mv.name}/{mv.version}")
    params = {"max_new_tokens": max_new_tokens, "temperature": temperature, "top_k": top_k, "seed": seed}
    out = model.predict(pd.DataFrame({"prompt": [prompt]}), params=params)
    typer.echo(prompt + out["text"][0])


@app.command()
def ui(
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    prefect_port: Annotated[int, typer.Option("--prefect-port", help="Port of the Prefect UI and API.")] = 4200,
    mlflow_port: Annotated[int, typer.Option("--mlflow-port", help="Port of the MLflow UI.")] = 5000,
) -> None:
    """Serve the Prefect UI and the MLflow UI on 127.0.0.1 over the workspace's stores.

    Both servers stop, with every process they started, on Ctrl-C or SIGTERM.
    """
    from forge.services.supervise import ServiceError
    from forge.services.ui import serve

    cfg = resolve_config(config, workspace)
    try:
        raise typer.Exit(serve(workspace_of(cfg), prefect_port=prefect_port, mlflow_port=mlflow_port))
    except ServiceError as e:
        fail(str(e))


@app.command()
def size(
    tokens: Annotated[str, typer.Option("--tokens", help="Training tokens you have: 2500000000, 2.5B, 300M or 10k.")],
    gpus: Annotated[int, typer.Option("--gpus", min=1, help="Accelerators to train on (nodes, for cpu).")],
    gpu_type: Annotated[str, typer.Option("--gpu-type", help="h100, h200, a100, l40s or cpu.")],
    hours: Annotated[float, typer.Option("--hours", help="Wall-clock budget for training.")],
    mfu: Annotated[float, typer.Option("--mfu", help="Share of peak FLOP/s the run achieves.")] = 0.4,
    vocab_size: Annotated[int, typer.Option("--vocab-size", min=1, help="Tokenizer vocabulary.")] = 32768,
    micro_batch: Annotated[int, typer.Option("--micro-batch", min=1, help="Sequences per GPU per step.")] = 8,
    as_json: JsonOpt = False,
) -> None:
    """The model preset your tokens, GPUs and hours can train well, with its FLOPs, memory and time.

    Chinchilla's ~20 tokens per parameter; memory per GPU for weights, gradients, AdamW state and
    activations; DDP or FSDP; and every other preset for comparison.
    """
    from forge_core.model.advice import format_report, parse_tokens, recommend

    try:
        count = parse_tokens(tokens)
    except ValueError as e:
        fail(f"--tokens: {e}")
    try:
        rec = recommend(count, gpus, gpu_type.lower(), hours, mfu, vocab_size, micro_batch)
    except ValueError as e:
        fail(str(e))
    typer.echo(format_report(rec))
    if as_json:
        emit_json(rec.to_dict())


@app.command()
def server(
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    host: Annotated[
        str | None,
        typer.Option("--host", help="Address to listen on (default 127.0.0.1); beyond loopback only when given here."),
    ] = None,
    prefect_port: Annotated[int | None, typer.Option("--prefect-port", help="Prefect API, UI (default 4200).")] = None,
    mlflow_port: Annotated[int | None, typer.Option("--mlflow-port", help="MLflow server, UI (default 5000).")] = None,
    artifacts_destination: Annotated[
        str | None,
        typer.Option("--artifacts-destination", help="Folder or s3:// URL (default <workspace>/mlflow-artifacts)."),
    ] = None,
) -> None:
    """Serve Prefect and MLflow for a team, on PostgreSQL, with MLflow sign-in and artifact proxying.

    Databases from FORGE_PREFECT_DATABASE_URL and FORGE_MLFLOW_DATABASE_URL, the MLflow admin's
    password from FORGE_MLFLOW_ADMIN_PASSWORD. Prints the variables that point forge at both.
    Both servers stop, with every process they started, on Ctrl-C or SIGTERM.
    """
    from forge.services.supervise import ServiceError
    from forge.services.team import serve as serve_team

    cfg = resolve_config(config, workspace)
    try:
        code = serve_team(cfg, host, prefect_port, mlflow_port, artifacts_destination)
    except (ConfigError, ServiceError) as e:
        fail(str(e))
    raise typer.Exit(code)


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


if __name__ == "__main__":
    app()

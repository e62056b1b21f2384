"""`forge finetune`: a registered model tuned on the company's conversations."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from forge.commands.datasets import print_summary
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
    prepare_flow_run,
    print_log_path,
)
from forge.runlog import settle_logs
from forge.startup import overlapped_start

app = typer.Typer()


@app.command()
def finetune(
    ref: Annotated[str, typer.Argument(metavar="MODEL[:VERSION|@ALIAS]", help="Registered model to start from.")],
    sources: SourcesArg,
    lora: Annotated[
        bool, typer.Option("--lora/--full", help="LoRA adapters (merged at the end) or every weight.")
    ] = False,
    name: Annotated[
        str | None, typer.Option("--name", help="Register under this name (default registry.model_name).")
    ] = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    dask_address: DaskAddressOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fine-tune MODEL on the conversations in SOURCES (JSONL of messages or prompt/completion pairs).

    The conversations are curated like documents (ledger, PII redaction in every turn, dedup,
    validation gates) into a chat dataset version; the loss is taken on assistant turns only,
    with the model's chat template (a base's own, or Forge's default). The result is registered
    as a new version, alias `candidate`, tagged with the parent version and the chat dataset.
    """
    cfg = prepare_flow_run(sources, config, workspace, dask_address)
    cfg.finetune.lora = lora or cfg.finetune.lora
    if name:
        cfg.registry.model_name = name
    from flows.finetune import finetune as finetune_flow
    from forge_core.chat.dataset import ConversationError
    from forge_core.config import ConfigError
    from forge_core.io.sources import SourceError
    from forge_core.lineage.queries import LineageError
    from forge_core.lineage.tracking import TrackingError
    from forge_core.validate import ValidationFailed

    open_tracking(cfg)
    settle_logs(training=True)
    with overlapped_start(cfg, mlflow=True), owned_runs():
        try:
            result = finetune_flow(model=ref, sources=sources, config=cfg)
        except (
            SourceError,
            ValidationFailed,
            ConfigError,
            TrackingError,
            LineageError,
            ConversationError,
            ValueError,
        ) as e:
            fail(str(e))
    print_summary(result)
    print_finetune(result)
    print_log_path()
    if as_json:
        emit_json(result)


def print_finetune(result: dict[str, Any]) -> None:
    from rich.console import Console

    def loss(v: float | None) -> str:
        return "n/a (nothing held out)" if v is None else f"{v:.4f}"

    console = Console(soft_wrap=True)
    console.print(
        f"fine-tuned {result['parent']} ({result['method']}, {result['trainable_parameters']:,} parameters trained) "
        f"on {result['train_conversations']} conversations, {result['steps']} steps; template: {result['template']}"
    )
    console.print(
        f"held-out loss per assistant token ({result['val_conversations']} conversations): "
        f"{loss(result['heldout_loss_before'])} before, {loss(result['heldout_loss_after'])} after"
    )
    for s in result["samples"]:
        console.print(f"  {s['prompt']!r}\n    expected: {s['expected']!r}\n    reply:    {s['reply']!r}")
    console.print(f"registered {result['model_name']} version {result['model_version']} (alias candidate)")

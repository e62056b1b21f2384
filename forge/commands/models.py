"""Models: `forge train` (standalone), `forge eval`, `forge generate`, `forge size`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from forge.options import (
    ConfigOpt,
    JsonOpt,
    WorkspaceOpt,
    emit_json,
    fail,
    open_tracking,
    resolve_config,
)

app = typer.Typer()


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

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
    text: Annotated[
        Path | None, typer.Option("--text", help="A UTF-8 text file to score, e.g. held-out documents.")
    ] = None,
    questions: Annotated[
        Path | None,
        typer.Option(
            "--questions",
            metavar="FILE.jsonl",
            help='Your own questions, one JSON object a line: {"question", "choices", "answer": index or text} '
            'or {"question", "answer": a text or a list of texts}, with optional "id" and "category".',
        ),
    ] = None,
    tasks: Annotated[
        str | None, typer.Option("--tasks", metavar="TASK[,TASK]", help="lm-evaluation-harness tasks to run.")
    ] = None,
    include_path: Annotated[
        list[Path] | None,
        typer.Option("--include-path", metavar="DIR", help="A folder of harness task YAML files (repeatable)."),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N examples per task.")] = None,
    chat: Annotated[
        bool | None,
        typer.Option(
            "--chat/--no-chat",
            help="Ask in the model's chat template. --questions: on by default for a model fine-tuned on "
            "conversations; --tasks: off by default, as in the harness.",
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Sequences per forward pass.")] = 8,
    as_json: JsonOpt = False,
) -> None:
    """A registered model on your own text (bits per byte), your own questions (accuracy), or
    lm-evaluation-harness tasks; exactly one of --text, --questions and --tasks."""
    if sum(x is not None for x in (text, questions, tasks)) != 1:
        fail("choose one of --text FILE, --questions FILE.jsonl or --tasks TASK[,TASK]")
    if tasks is None and (include_path or limit is not None):
        fail("--include-path and --limit go with --tasks")
    if text is not None and chat is not None:
        fail("--chat and --no-chat go with --questions or --tasks")
    store = (config, workspace)  # opened once the input is read: a typo in a path creates no workspace
    if text is not None:
        eval_text(ref, text, batch_size, as_json, store)
    elif questions is not None:
        eval_questions(ref, questions, chat, batch_size, as_json, store)
    else:
        names = [t.strip() for t in (tasks or "").split(",") if t.strip()]
        eval_tasks(ref, names, include_path or [], limit, chat, batch_size, as_json, store)


def eval_text(ref: str, text: Path, batch_size: int, as_json: bool, store: tuple[Path | None, str | None]) -> None:
    import mlflow

    from forge_core.lineage.queries import LineageError, resolve_model
    from forge_core.tokenize import EOT
    from forge_core.train.evaluate import score_tokens

    try:
        content = text.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        fail(f"{text}: cannot read as UTF-8 text ({e})")
    open_tracking(resolve_config(*store))
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


def eval_questions(
    ref: str, path: Path, chat: bool | None, batch_size: int, as_json: bool, store: tuple[Path | None, str | None]
) -> None:
    from forge_core.chat.spec import spec_of_loaded
    from forge_core.chat.template import TemplateError
    from forge_core.evaluation.questions import (
        QuestionsError,
        chat_tuned,
        format_report,
        read_questions,
        score_questions,
    )
    from forge_core.interop.bases import load_version
    from forge_core.lineage.queries import LineageError

    try:
        items = read_questions(path)
    except QuestionsError as e:
        fail(str(e))
    open_tracking(resolve_config(*store))
    try:
        mv, loaded, _, _ = load_version(ref)
    except LineageError as e:
        fail(str(e))
    spec = spec_of_loaded(loaded) if (chat_tuned(loaded) if chat is None else chat) else None
    try:
        report = score_questions(loaded, items, spec, batch_size)
    except (TemplateError, ValueError) as e:
        fail(f"{path}: {e}")
    prompts = f"asked in its chat template ({spec.origin})" if spec else 'asked as "Question: ...\\nAnswer:"'
    typer.echo(f"{mv.name} version {mv.version} on {path}, {prompts}:\n{format_report(report)}")
    if as_json:
        emit_json(
            {"model_name": mv.name, "model_version": str(mv.version), "questions_file": str(path)}
            | {"chat_template": spec.origin if spec else None}
            | report
        )


def eval_tasks(
    ref: str,
    tasks: list[str],
    include_paths: list[Path],
    limit: int | None,
    chat: bool | None,
    batch_size: int,
    as_json: bool,
    store: tuple[Path | None, str | None],
) -> None:
    from forge_core.evaluation.harness import HarnessError, format_results, run_tasks
    from forge_core.lineage.queries import LineageError, resolve_model

    if not tasks:
        fail("--tasks: name at least one task, e.g. --tasks my_questions,my_replies")
    open_tracking(resolve_config(*store))
    try:
        mv = resolve_model(ref)
        results = run_tasks(f"{mv.name}:{mv.version}", tasks, include_paths, limit, bool(chat), batch_size)
    except (HarnessError, LineageError) as e:
        fail(str(e))
    typer.echo(f"{mv.name} version {mv.version}, lm-evaluation-harness:\n{format_results(results)}")
    if as_json:
        emit_json(
            {"model_name": mv.name, "model_version": str(mv.version), "tasks": tasks}
            | {k: results.get(k) for k in ("results", "groups", "n-samples", "versions")}
        )


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


@app.command()
def export(
    ref: Annotated[str, typer.Argument(metavar="NAME[:VERSION|@ALIAS]", help="Registered model (newest version).")],
    out: Annotated[Path, typer.Option("--out", help="Folder (hf) or file (gguf) to write; must not exist yet.")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="hf: a Hugging Face folder; gguf: one llama.cpp file; peft: a LoRA fine-tune's adapter, for the "
            "hf export of the version it was tuned from.",
        ),
    ] = "hf",
    dtype: Annotated[str, typer.Option("--dtype", help="f32, f16 or bf16.")] = "f32",
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a registered model in the formats other tools load: transformers and vLLM (hf), llama.cpp (gguf).

    Any Forge model: trained from scratch, an imported base, continued from one, or fine-tuned. The
    hf folder carries a model card with the lineage (dataset_id, ledger digest, registry version,
    base, parent); a fine-tuned model's folder carries its chat template and stops at its end of turn.
    """
    import torch

    from forge_core.interop.bases import load_version
    from forge_core.interop.card import model_card
    from forge_core.interop.gguf_file import DTYPES, write_gguf
    from forge_core.interop.huggingface import CheckpointError, save_folder
    from forge_core.lineage.queries import LineageError

    if fmt not in ("hf", "gguf", "peft"):
        fail(f"--format {fmt!r}: choose hf, gguf or peft")
    if dtype not in DTYPES:
        fail(f"--dtype {dtype!r}: choose {', '.join(DTYPES)}")
    if out.exists() and (out.is_file() or any(out.iterdir())):
        fail(f"{out} exists: export into a new path")
    ws = open_tracking(resolve_config(config, workspace))
    try:
        mv, loaded, tags, carried = load_version(ref)
    except LineageError as e:
        fail(str(e))
    model = loaded.model.float().cpu()
    base = tags.get("base.name")  # set on versions continued from a base
    chat = None
    if "parent.name" in tags:  # fine-tuned on conversations: its template and end of turn go with it
        from forge_core.chat.spec import spec_of_loaded

        chat = spec_of_loaded(loaded)
    if fmt == "peft":
        from forge_core.interop.adapter import write_hf_adapter

        adapter = loaded.artifacts.get("adapter")
        if not adapter:
            fail(f"{mv.name} version {mv.version} has no LoRA adapter: only `forge finetune --lora` versions do")
        parent = f"{tags.get('parent.name')}:{tags.get('parent.version')}"
        try:
            files = write_hf_adapter(adapter, model.cfg, out, base_model=parent)
        except FileExistsError as e:
            fail(str(e))
        typer.echo(f"{mv.name} version {mv.version} -> {out} (PEFT adapter for the hf export of {parent})")
        if as_json:
            emit_json(
                {"model_name": mv.name, "model_version": str(mv.version), "format": fmt, "out": str(out)}
                | {"files": files, "parent": parent}
            )
        return
    if fmt == "hf":
        languages = []
        if "dataset_id" in tags:
            from forge_core.lineage.queries import dataset_languages

            try:
                languages = dataset_languages(ws, tags["dataset_id"])
            except OSError:  # a dataset folder no longer there: the card says nothing rather than guess
                languages = []
        card = model_card(mv.name, str(mv.version), tags, languages, base_model=base)
        torch_dtype = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}[dtype]
        try:
            files = save_folder(model, loaded.tokenizer, out, card, hf_files=carried, dtype=torch_dtype, chat=chat)
        except (CheckpointError, FileExistsError) as e:
            fail(str(e))
    else:
        pre = {"qwen2": "qwen2", "llama": "llama-bpe"}.get(tags.get("base.architecture", "")[:5].lower(), "gpt-2")
        try:
            write_gguf(
                model, loaded.tokenizer.to_str(), out, mv.name, dtype, bos=loaded.eos_id, eos=loaded.eos_id, pre=pre
            )
        except ValueError as e:
            fail(str(e))
        files = [out.name]
    typer.echo(f"{mv.name} version {mv.version} -> {out} ({fmt}, {dtype}): {', '.join(files)}")
    if as_json:
        emit_json(
            {"model_name": mv.name, "model_version": str(mv.version), "format": fmt, "out": str(out), "files": files}
        )


base_app = typer.Typer(help="Open base models (Llama, Mistral, Qwen2) copied onto this machine.", no_args_is_help=True)
app.add_typer(base_app, name="base")


@base_app.command("import")
def base_import(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="A local Hugging Face checkpoint folder.")],
    name: Annotated[
        str | None, typer.Option("--name", help="Registered model name (default: the folder's name).")
    ] = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a local base model as a model version of its own: the root of its lineage.

    Reads config.json, model.safetensors (or its shards and index), tokenizer.json and
    tokenizer_config.json; never the network. Tags the version with the sha256 of every file and
    the licence text when the folder has one.
    """
    from forge_core.interop.bases import EXPERIMENT, import_base
    from forge_core.interop.huggingface import CheckpointError
    from forge_core.lineage.tracking import ensure_experiment

    ws = open_tracking(resolve_config(config, workspace))
    try:
        result = import_base(folder, name or folder.resolve().name, ensure_experiment(ws, EXPERIMENT))
    except CheckpointError as e:
        fail(str(e))
    typer.echo(
        f"registered {result['name']} version {result['version']} ({result['architecture']}, "
        f"{result['parameters']:,} parameters) from {folder}; {len(result['files'])} files, "
        f"digest {result['files_digest'][:16]}, licence {'recorded' if result['licence'] else 'not found'}"
    )
    if as_json:
        emit_json(result)

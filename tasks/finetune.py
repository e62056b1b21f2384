from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from forge_core.config import ForgeConfig
from forge_core.io.workspace import Workspace
from forge_core.lineage import records


@task(name="load-parent-model", cache_policy=NO_CACHE)
def load_parent(ref: str) -> dict[str, Any]:
    """The registered version to fine-tune: its model, tokenizer, chat spec and lineage tags."""
    from forge_core.chat.spec import spec_of_loaded
    from forge_core.interop.bases import load_version

    mv, loaded, tags, carried = load_version(ref)
    return {
        "ref": ref,
        "name": mv.name,
        "version": str(mv.version),
        "model": loaded.model.float().cpu(),
        "tokenizer": loaded.tokenizer,
        "eos_id": loaded.eos_id,
        "spec": spec_of_loaded(loaded),
        "hf_files": carried,
        "lineage": {
            "parent.name": mv.name,
            "parent.version": str(mv.version),
            "parent.dataset_id": tags.get("dataset_id", ""),
        },
    }


@task(name="finetune-model", cache_policy=NO_CACHE)
def finetune_model(
    ws: Workspace,
    cfg: ForgeConfig,
    parent: dict[str, Any],
    dataset_id: str,
    experiment_id: str,
    parent_run: str,
    tags: dict[str, str],
) -> dict[str, Any]:
    """Fine-tune the parent on the chat dataset's training conversations in a nested MLflow run
    'finetune'; the result is a bundle (adapters merged) carrying the chat spec, ready to register."""
    import mlflow
    from lightning.pytorch.loggers import MLFlowLogger

    from forge_core.chat.dataset import encode_all, read_conversations, split
    from forge_core.chat.packing import pack
    from forge_core.export.bundle import save_bundle
    from forge_core.train.finetune import finetune, sample_answers

    log = get_run_logger()
    f = cfg.finetune
    run_id = records.start_run(experiment_id, "finetune", tags, parent=parent_run)
    client = mlflow.tracking.MlflowClient()
    try:
        records.log_dataset_input(run_id, ws, dataset_id, "fine-tuning")
        client.log_text(run_id, yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), "config/resolved.yaml")
        model, tokenizer, spec = parent["model"], parent["tokenizer"], parent["spec"]
        client.log_dict(run_id, spec.to_dict(), "chat/spec.json")
        block = f.block_size or min(model.cfg.block_size, 1024)
        conversations = read_conversations(ws, dataset_id)
        train, val = split(conversations, f.validation_fraction)
        if not train:
            raise ValueError(f"dataset {dataset_id} keeps no conversation to train on")
        packed_train = pack(encode_all(tokenizer, spec, train, block), block)
        packed_val = pack(encode_all(tokenizer, spec, val, block), block) if val else None
        client.log_dict(run_id, {"train": [c.doc_id for c in train], "val": [c.doc_id for c in val]}, "chat/split.json")
        log.info(
            "fine-tuning %s version %s (%s) on %d conversations, %d held out, template: %s",
            parent["name"],
            parent["version"],
            "LoRA" if f.lora else "full",
            len(train),
            len(val),
            spec.origin,
        )
        logger = MLFlowLogger(
            experiment_name=cfg.registry.experiment, tracking_uri=mlflow.get_tracking_uri(), run_id=run_id
        )
        local = Path(ws.training_dir(run_id) if ws.is_local else tempfile.mkdtemp(prefix=f"forge-finetune-{run_id}-"))
        local.mkdir(parents=True, exist_ok=True)
        adapter = local / "adapter" if f.lora else None
        tuned, result = finetune(model, packed_train, packed_val, f, logger, adapter_dir=adapter)
        samples = sample_answers(tuned, tokenizer, spec, val[:3])
        metrics = {
            k: v
            for k, v in result.to_dict().items()
            if isinstance(v, int | float) and not isinstance(v, bool) and v is not None
        }
        client.log_batch(
            run_id, metrics=[mlflow.entities.Metric(k, float(v), 0, result.steps) for k, v in metrics.items()]
        )
        client.log_dict(run_id, result.to_dict(), "evaluation/result.json")
        client.log_dict(run_id, samples, "evaluation/samples.json")
        metadata = {
            "dataset_id": dataset_id,
            "run_id": run_id,
            "parent": f"{parent['name']}:{parent['version']}",
            "eos_token_id": parent["eos_id"],
            "chat": spec.to_dict(),
        }
        if adapter is not None:
            (adapter / "forge_parent.json").write_text(json.dumps(metadata["parent"]) + "\n", encoding="utf-8")
        bundle = save_bundle(tuned, tokenizer.to_str(), local / "bundle", metadata)
    except BaseException:
        records.end_run(run_id, failed=True)
        raise
    create_markdown_artifact(key="finetune", markdown=finetune_markdown(parent, result.to_dict(), samples))
    out = {
        "run_id": run_id,
        "bundle": str(bundle),
        "result": result.to_dict(),
        "samples": samples,
        "adapter": str(adapter) if adapter is not None else None,
    }
    if parent.get("hf_files"):
        out["hf_files"] = str(parent["hf_files"])
    return out


def finetune_markdown(parent: dict[str, Any], r: dict[str, Any], samples: list[dict[str, str]]) -> str:
    def loss(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    lines = [
        f"# Fine-tuning {parent['name']} version {parent['version']} ({r['method']})",
        "",
        f"{r['train_conversations']} conversations in {r['rows']} packed rows, {r['steps']} steps "
        f"({r['epochs']} epochs), {r['trainable_parameters']:,} of {r['parameters']:,} parameters trained, "
        f"{r['tokens_per_s']:,.0f} assistant tokens/s on {r['device']} ({r['precision']}).",
        "",
        "| held-out conversations | loss per assistant token |",
        "| --- | --- |",
        f"| before ({r['val_conversations']}) | {loss(r['heldout_loss_before'])} |",
        f"| after | {loss(r['heldout_loss_after'])} |",
        "",
        "## Held-out questions (expected → reply)",
    ]
    lines += [f"- {json.dumps(s['prompt'])}: {json.dumps(s['expected'])} → {json.dumps(s['reply'])}" for s in samples]
    return "\n".join(lines)

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from forge_core.config import ForgeConfig
from forge_core.export.bundle import save_bundle
from forge_core.integrity import journal
from forge_core.integrity.digests import digest_of, manifest_digest
from forge_core.integrity.verify import DATASET_MANIFEST_TAG, WEIGHTS_FILES_TAG, WEIGHTS_TAG
from forge_core.io.workspace import Workspace
from forge_core.lineage import records
from forge_core.tokenize import EOT, read_index


@task(name="train-model", cache_policy=NO_CACHE)
def train_language_model(
    ws: Workspace,
    cfg: ForgeConfig,
    tokens: dict[str, Any],
    experiment_id: str,
    parent_run: str,
    tags: dict[str, str],
    base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train (or continue pretraining `base`) and evaluate in a nested MLflow run 'train'; the result
    is a bundle on disk, ready to register. From a base, the evaluation before the first step is the
    base's own bits per byte on the held-out split, logged as base_val_bpb."""
    import mlflow
    from lightning.pytorch.loggers import MLFlowLogger
    from tokenizers import Tokenizer

    from forge_core.train.curve import plot_curve
    from forge_core.train.samples import sample_continuations
    from forge_core.train.trainer import train_model

    log = get_run_logger()
    if cfg.train.devices * cfg.train.num_nodes > 1:
        # Lightning starts the other ranks by running the same command again: that must be
        # `forge train`, not the whole flow.
        raise ValueError(
            f"train.devices x train.num_nodes = {cfg.train.devices * cfg.train.num_nodes}: `forge run` trains on one "
            "device; for several, run `forge train --tokens <workspace>/datasets/<id>/tokens` (README: multi-GPU)"
        )
    dataset_id = tags["dataset_id"]
    run_id = records.start_run(experiment_id, "train", tags, parent=parent_run)
    client = mlflow.tracking.MlflowClient()
    try:
        records.log_dataset_input(run_id, ws, dataset_id, "training")
        client.log_text(run_id, yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), "config/resolved.yaml")
        client.log_dict(run_id, tokens, "dataset/tokens.json")
        tokenizer_path = f"{ws.dataset_dir(dataset_id)}/tokenizer.json"
        client.log_artifact(run_id, tokenizer_path, artifact_path="tokenizer")
        client.log_param(run_id, "dataset_id", dataset_id)
        for split in ("train", "val"):
            client.log_param(run_id, f"{split}_tokens", tokens[split]["tokens"])

        logger = MLFlowLogger(
            experiment_name=cfg.registry.experiment, tracking_uri=mlflow.get_tracking_uri(), run_id=run_id
        )
        what = f"{base['name']} version {base['version']}" if base else f"preset {cfg.train.preset!r}"
        log.info("training %s on %d tokens of %s", what, tokens["train"]["tokens"], dataset_id)
        # Checkpoints are written and renamed in place, so they need a local folder; an object-store
        # workspace trains into a local temporary one.
        local = Path(ws.training_dir(run_id) if ws.is_local else tempfile.mkdtemp(prefix=f"forge-train-{run_id}-"))
        local.mkdir(parents=True, exist_ok=True)
        checkpoints = str(local / "checkpoints")
        model, data, result = train_model(
            tokens,
            cfg.train,
            checkpoints,
            logger,
            final_eval_batches=cfg.eval.max_batches,
            base=base["model"] if base else None,
        )
        curve = result.to_dict().pop("curve")
        client.log_dict(run_id, curve, "training/curve.json")
        plot = plot_curve(curve, local / "loss.png", f"{cfg.train.preset}: {result.parameters:,} parameters")
        if plot is not None:
            client.log_artifact(run_id, str(plot), artifact_path="training")

        with ws.fs.open(tokenizer_path, "r", encoding="utf-8") as f:
            tokenizer_json = f.read()
        tokenizer = Tokenizer.from_str(tokenizer_json)
        eos = base["eos_id"] if base else tokenizer.token_to_id(EOT)
        samples = sample_continuations(
            model, tokenizer, data.val, read_index(ws, tokens), cfg.eval, eos, cfg.train.seed
        )
        final = result.final
        extra = [mlflow.entities.Metric("parameters", result.parameters, 0, 0)]
        if base:
            extra.append(mlflow.entities.Metric("base_val_bpb", result.initial["val_bpb"], 0, 0))
        client.log_batch(
            run_id,
            metrics=[mlflow.entities.Metric(f"eval_{k}", float(v), 0, result.steps) for k, v in final.items()] + extra,
        )
        client.log_dict(run_id, samples, "evaluation/samples.json")
        client.log_dict(run_id, {k: v for k, v in result.to_dict().items() if k != "curve"}, "evaluation/result.json")
        metadata = {"dataset_id": dataset_id, "run_id": run_id}
        if base:
            metadata |= {"base": f"{base['name']}:{base['version']}", "eos_token_id": base["eos_id"]}
        bundle = save_bundle(model, tokenizer_json, local / "bundle", metadata)
    except BaseException:
        records.end_run(run_id, failed=True)
        raise
    create_markdown_artifact(key="training", markdown=training_markdown(result.to_dict(), samples), description=run_id)
    out = {"run_id": run_id, "bundle": str(bundle), "result": result.to_dict(), "samples": samples}
    if base and base.get("hf_files"):
        out["hf_files"] = str(base["hf_files"])  # the base's tokenizer config and licence travel on
    return out


@task(name="register-model", cache_policy=NO_CACHE)
def register_model(cfg: ForgeConfig, trained: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    """Log the bundle as a pyfunc in the train run, register it, alias it `candidate`, tag its lineage."""
    from pathlib import Path

    import mlflow

    from forge_core.export.pyfunc import log_pyfunc, pyfunc_files

    prompts = [s["prompt"] for s in trained["samples"]]
    run_id = trained["run_id"]
    extra = {name: trained[key] for name, key in (("hf", "hf_files"), ("adapter", "adapter")) if trained.get(key)}
    bundle = Path(trained["bundle"])
    ws = Workspace(cfg.workspace)
    files = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in pyfunc_files(bundle)}
    integrity_tags = {WEIGHTS_FILES_TAG: json.dumps(files, sort_keys=True), WEIGHTS_TAG: digest_of(files)}
    if "dataset_id" in tags:  # what `forge verify` rechecks: these files, and the dataset it learned from
        integrity_tags[DATASET_MANIFEST_TAG] = manifest_digest(ws, tags["dataset_id"])
    with mlflow.start_run(run_id=run_id):
        info = log_pyfunc(bundle, cfg.registry.model_name, prompts, extra=extra or None)
    version = str(info.registered_model_version)
    records.register_version(cfg.registry.model_name, version, tags | integrity_tags)
    journal.append(
        ws,
        "register",
        name=cfg.registry.model_name,
        version=version,
        dataset_id=tags.get("dataset_id"),
        weights_sha256=integrity_tags[WEIGHTS_TAG],
        dataset_manifest_sha256=integrity_tags.get(DATASET_MANIFEST_TAG),
    )
    from forge_core.compliance.cards import log_model_card

    log_model_card(ws, cfg.registry.model_name, version)  # model_card/README.md, which `forge export` carries
    return {"model_name": cfg.registry.model_name, "model_version": version, "model_uri": info.model_uri}


def training_markdown(result: dict[str, Any], samples: list[dict[str, str]]) -> str:
    i, f = result["initial"], result["final"]
    lines = [
        f"# Training: {result['parameters']:,} parameters, {result['steps']} steps, {result['precision']}",
        "",
        f"{result['world_size']} x {result['device_name']} ({result['strategy']}"
        f"{', compiled' if result['compiled'] else ''}): {result['tokens_per_s']:,.0f} tokens/s"
        + (f", MFU {result['mfu']:.1%}" if result["mfu"] is not None else "")
        + f"; stopped by {result['stopped_by']}",
        "",
        "| | validation loss | bits per byte |",
        "| --- | --- | --- |",
        f"| before training | {i['val_loss']:.3f} | {i['val_bpb']:.3f} |",
        f"| after training | {f['val_loss']:.3f} | {f['val_bpb']:.3f} |",
        "",
        "## Samples (prompt → continuation)",
    ]
    lines += [f"- `{json.dumps(s['prompt'])}` → {json.dumps(s['continuation'])}" for s in samples]
    return "\n".join(lines)

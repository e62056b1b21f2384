"""`forge train`: train on a dataset version's token files, with only torch, lightning and numpy.

A GPU node rarely has the data stack (the orchestrator, Dask, polars, MLflow), and need not: copy a
dataset version's tokens/ folder there and run this. The command line is generated from
TrainConfig, so every config key is also a flag. MLflow records the run when it is importable;
otherwise the metrics go to a CSV log beside the checkpoints. Under torchrun or srun each process
runs this same command; Lightning reads the rank from the environment.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from forge_core.train.recipe import TrainConfig, cli_options

CONFIG, RESULT, CURVE, PLOT, MODEL = "train_config.json", "result.json", "curve.json", "loss.png", "model"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="forge train",
        description="Train a GPT on a dataset version's token files (a tokens/ folder with manifest.json). "
        "Needs only torch, lightning and numpy; logs to MLflow when it is installed.",
    )
    p.add_argument("--tokens", required=True, help="Token folder: <workspace>/datasets/<id>/tokens, or a copy.")
    p.add_argument("--out", required=True, help="Run folder: checkpoints, curve, loss.png, result.json, model/.")
    p.add_argument("--config", help="A Forge YAML config; its train: section is read (flags override it).")
    p.add_argument("--resume", action="store_true", help="Continue the run in --out from its newest checkpoint.")
    p.add_argument("--tracking-uri", help="MLflow tracking URI [default: $MLFLOW_TRACKING_URI, else <out>/mlflow.db]")
    p.add_argument("--experiment", default="forge-train", help="MLflow experiment [default: forge-train]")
    p.add_argument("--eval-batches-final", type=int, default=50, help="Validation batches after training.")
    p.add_argument("--json", action="store_true", help="End stdout with one JSON line of the result.")
    group = p.add_argument_group("training (the train: section of the config)")
    for flag, kwargs in cli_options():
        group.add_argument(flag, **kwargs)
    return p


def resolve(args: argparse.Namespace, out: Path) -> TrainConfig:
    """Defaults, then the config file's train: section (or the run's own config, on resume), then flags."""
    values: dict[str, Any] = {}
    flags = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name) is not None}
    if args.resume and (out / CONFIG).exists():
        values = json.loads((out / CONFIG).read_text())
        changed = sorted(k for k, v in flags.items() if values.get(k) != TrainConfig(**(values | {k: v})).__dict__[k])
        if changed:
            raise ValueError(f"--resume continues {out} as it was configured; these flags differ: {', '.join(changed)}")
        return TrainConfig(**values)
    if args.config:
        import yaml  # a dependency of lightning, so present wherever training runs

        loaded = yaml.safe_load(Path(args.config).read_text(encoding="utf-8")) or {}
        values = dict(loaded.get("train") or {})
    return TrainConfig(**(values | flags))


def mlflow_logger(args: argparse.Namespace, out: Path, cfg: TrainConfig) -> Any:
    """An MLFlowLogger continuing this run folder's MLflow run, or a CSV log where MLflow is absent."""
    if importlib.util.find_spec("mlflow") is None:
        from lightning.pytorch.loggers import CSVLogger

        return CSVLogger(str(out), name="logs", version=0)
    from lightning.pytorch.loggers import MLFlowLogger

    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    # With no server, a store in the run folder, its artifacts beside it (MLflow's default is ./mlruns
    # in whatever folder the command ran from).
    local = None if uri else (out / "mlflow-artifacts").resolve().as_uri()
    uri = uri or f"sqlite:///{(out / 'mlflow.db').resolve()}"
    run_file = out / "mlflow_run.json"
    run_id = json.loads(run_file.read_text())["run_id"] if args.resume and run_file.exists() else None
    return MLFlowLogger(experiment_name=args.experiment, tracking_uri=uri, run_id=run_id, artifact_location=local)


def load_base(ref: str, manifest: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """(model, bundle metadata) of --base: a model folder, either a Forge bundle (the model/ folder
    `forge train` writes, or a registered version's artifacts) or a Hugging Face checkpoint. A
    registered NAME@ALIAS is resolved by `forge run`, which has the registry; this command has only
    the folder. The tokens must be the base tokenizer's: the manifest's digest is checked."""
    import hashlib

    folder = Path(ref)
    if not folder.is_dir():
        raise ValueError(
            f"--base {ref}: forge train continues from a model folder (a Forge bundle or a Hugging Face "
            "checkpoint); a registered NAME[:VERSION|@ALIAS] is for forge run's train.base"
        )
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    tokenizer = folder / "tokenizer.json"
    if "model" in config:
        from forge_core.export.bundle import load_bundle, weights_file

        model, _ = load_bundle(weights_file(folder), tokenizer, folder / "config.json")
        metadata = config.get("forge", {})
    else:
        from forge_core.interop.huggingface import load_checkpoint

        model, _ = load_checkpoint(folder)
        metadata = {"base": str(folder.resolve()), "eos_token_id": config.get("eos_token_id")}
    expected = manifest.get("tokenizer_sha256")
    if expected and tokenizer.is_file():
        from tokenizers import Tokenizer

        found = hashlib.sha256(Tokenizer.from_file(str(tokenizer)).to_str().encode()).hexdigest()
        if found != expected:
            raise ValueError(
                f"--base {ref}: its tokenizer.json (sha256 {found[:12]}) is not the one the tokens were made "
                f"with ({expected[:12]}): tokenize with the base's tokenizer (forge run with train.base)"
            )
    return model.float(), metadata


def save_model(
    model: Any, manifest: dict[str, Any], tokens: Path, folder: Path, metadata: dict[str, Any] | None = None
) -> None:
    """The model as a bundle (export/bundle.py: the same files `forge run` writes), with the
    dataset's tokenizer.json, so the folder is a model a user can load."""
    from forge_core.export.bundle import save_bundle

    recorded = Path(manifest.get("tokenizer") or tokens / "tokenizer.json")
    candidates = (recorded, tokens / "tokenizer.json", tokens.parent / "tokenizer.json")
    found = next((p for p in candidates if p.is_file()), None)
    save_bundle(model, found.read_text(encoding="utf-8") if found else None, folder, metadata)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    out = Path(args.out)
    from forge_core.train.data import load_manifest

    try:
        cfg = resolve(args, out)
        manifest = load_manifest(args.tokens)
        base, base_metadata = load_base(cfg.base, manifest) if cfg.base else (None, {})
    except (ValueError, TypeError, FileNotFoundError, OSError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    checkpoints = out / "checkpoints"
    if not args.resume and any(checkpoints.glob("*.ckpt")):
        print(
            f"error: {checkpoints} already holds a run: --resume to continue it, or choose another --out",
            file=sys.stderr,
        )
        return 2
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG).write_text(json.dumps(asdict(cfg), indent=2) + "\n")

    from forge_core.train.curve import plot_curve
    from forge_core.train.trainer import train_model

    logger = mlflow_logger(args, out, cfg)
    try:
        model, _, result = train_model(
            manifest,
            cfg,
            str(checkpoints),
            logger,
            resume=args.resume,
            final_eval_batches=args.eval_batches_final,
            base=base,
        )
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if result is None:  # not rank 0: rank 0 writes the outputs
        return 0
    summary = result.to_dict()
    (out / CURVE).write_text(json.dumps(summary.pop("curve")) + "\n")
    (out / RESULT).write_text(json.dumps(summary, indent=2) + "\n")
    tokens = Path(args.tokens)
    metadata = {"base": base_metadata.get("base") or cfg.base, "eos_token_id": base_metadata.get("eos_token_id")}
    save_model(model, manifest, tokens if tokens.is_dir() else tokens.parent, out / MODEL, metadata if base else None)
    plot = plot_curve(result.curve, out / PLOT, f"{cfg.preset}: {result.parameters:,} parameters")
    if hasattr(logger, "run_id"):
        (out / "mlflow_run.json").write_text(json.dumps({"run_id": logger.run_id}) + "\n")
        for path in (out / CURVE, out / RESULT, plot):
            if path is not None:
                logger.experiment.log_artifact(logger.run_id, str(path), artifact_path="training")
        logger.experiment.log_metric(logger.run_id, "eval_val_bpb", result.final["val_bpb"], step=result.steps)
    f = result.final
    print(
        f"trained {result.parameters:,} parameters for {result.steps} steps ({result.stopped_by}) on "
        f"{result.world_size} x {result.device_name} ({result.strategy}, {result.precision}"
        f"{', compiled' if result.compiled else ''}): {result.tokens_per_s:,.0f} tokens/s"
        + (f", MFU {result.mfu:.1%}" if result.mfu is not None else "")
    )
    print(
        f"validation: {f['val_loss']:.4f} nats/token, {f['val_bpb']:.4f} bits/byte "
        f"(untrained {result.initial['val_bpb']:.3f}); outputs in {out}"
    )
    if args.json:
        print(json.dumps({k: summary[k] for k in summary if k != "model_config"} | {"out": str(out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

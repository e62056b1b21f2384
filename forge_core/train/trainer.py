"""The Lightning Trainer, assembled from the config, and one training run from token files to a model."""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import Logger

from forge_core.config import ForgeConfig, TrainConfig
from forge_core.model.gpt import GPT, GPTConfig
from forge_core.model.presets import preset
from forge_core.train.data import TokenData
from forge_core.train.evaluate import evaluate
from forge_core.train.module import LanguageModel

# Lightning advertises a cloud logger on every run and warns about its own use of torch's pytree;
# neither helps a user of an air-gapped tool.
logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(lambda r: "litlogger" not in r.getMessage())
warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated")


def choose_precision(cfg: TrainConfig) -> tuple[str, str]:
    """(accelerator, precision): bf16-mixed where a CUDA GPU supports it, 32-bit on CPU."""
    gpu = torch.cuda.is_available() and cfg.accelerator != "cpu"
    if cfg.accelerator == "gpu" and not gpu:
        raise ValueError("train.accelerator is 'gpu' but CUDA sees no GPU; use 'auto' or 'cpu'")
    accelerator = "gpu" if gpu else "cpu"
    if cfg.precision != "auto":
        return accelerator, cfg.precision
    return accelerator, "bf16-mixed" if gpu and torch.cuda.is_bf16_supported() else "32-true"


def model_config(cfg: TrainConfig, vocab_size: int) -> GPTConfig:
    """The preset's shape, the tokenizer's vocabulary padded to a multiple of 64 (faster matmuls;
    the extra rows are never targets), and any override from the config."""
    overrides: dict[str, Any] = {"dropout": cfg.dropout}
    if cfg.block_size:
        overrides["block_size"] = cfg.block_size
    return preset(cfg.preset, vocab_size=64 * -(-vocab_size // 64), **overrides)


def epochs_for(cfg: TrainConfig, batches_per_epoch: int) -> int:
    """Enough passes over the data for max_steps (a small corpus is seen many times); max_steps stops it."""
    return max(1, -(-cfg.max_steps * cfg.grad_accum // max(batches_per_epoch, 1)))


@dataclass
class TrainResult:
    model_config: dict[str, Any]
    parameters: int
    accelerator: str
    precision: str
    initial: dict[str, float]
    final: dict[str, float]
    steps: int
    train_tokens_seen: int
    seconds: float
    checkpoint_dir: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_model(
    manifest: dict[str, Any], cfg: ForgeConfig, checkpoint_dir: str, logger: Logger | bool
) -> tuple[GPT, TokenData, TrainResult]:
    """Train a GPT of the configured preset on a dataset version's token files.

    Validation loss and bits per byte are measured once before the first step too, so every run's
    curve starts from the untrained model and "how much did it learn" is one subtraction.
    """
    t = cfg.train
    L.seed_everything(t.seed, workers=True, verbose=False)
    gpt_cfg = model_config(t, manifest["vocab_size"])
    data = TokenData(manifest, gpt_cfg.block_size, t.batch_size, t.seed, t.eval_batches)
    module = LanguageModel(asdict(gpt_cfg), t.model_dump(), data.bytes_per_token)
    accelerator, precision = choose_precision(t)

    initial = evaluate(module.model, data.val_dataloader(), data.bytes_per_token)
    if isinstance(logger, Logger):
        logger.log_metrics({"val_loss": initial["val_loss"], "val_bpb": initial["val_bpb"]}, step=0)

    trainer = L.Trainer(
        accelerator=accelerator,
        devices=1,
        precision=precision,
        max_steps=t.max_steps,
        max_epochs=epochs_for(t, len(data.train_dataloader())),
        accumulate_grad_batches=t.grad_accum,
        gradient_clip_val=t.grad_clip or None,
        val_check_interval=t.eval_every * t.grad_accum,  # counted in micro-batches
        check_val_every_n_epoch=None,
        limit_val_batches=t.eval_batches,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
        logger=logger,
        callbacks=[
            ModelCheckpoint(
                dirpath=checkpoint_dir,
                filename="step-{step}",
                save_last=True,
                save_top_k=-1,
                every_n_train_steps=t.eval_every,
            )
        ],
        enable_model_summary=False,
        deterministic=False,
    )
    start = time.perf_counter()
    trainer.fit(module, datamodule=data)
    seconds = time.perf_counter() - start

    model = module.model.float()
    final = evaluate(model, data.val_dataloader(cfg.eval.max_batches), data.bytes_per_token)
    result = TrainResult(
        model_config=asdict(gpt_cfg),
        parameters=model.num_params(),
        accelerator=accelerator,
        precision=precision,
        initial=initial,
        final=final,
        steps=trainer.global_step,
        train_tokens_seen=trainer.global_step * t.batch_size * t.grad_accum * gpt_cfg.block_size,
        seconds=round(seconds, 2),
        checkpoint_dir=checkpoint_dir,
    )
    return model, data, result

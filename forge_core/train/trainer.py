"""The Lightning Trainer, assembled from the config, and one training run from token files to a model.

Everything here needs only torch, lightning and numpy, so the same run works inside `forge run`
and as `forge train` on a GPU node without the data stack.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.loggers import Logger

from forge_core.model import sizing
from forge_core.model.architecture import GPTConfig, preset
from forge_core.model.gpt import GPT, Block
from forge_core.train.checkpoints import LAST, StepCheckpoints, latest_checkpoint
from forge_core.train.curve import LossCurve
from forge_core.train.data import TokenData
from forge_core.train.evaluate import evaluate
from forge_core.train.module import LanguageModel
from forge_core.train.progress import TrainingLine
from forge_core.train.recipe import TrainConfig

# Lightning advertises a cloud logger on every run and warns about its own use of torch's pytree;
# neither helps a user of an air-gapped tool.
logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(lambda r: "litlogger" not in r.getMessage())
warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated")
# MicroBatches resumes from the restored step by construction, which Lightning cannot see.
warnings.filterwarnings("ignore", message=".*your dataloader is not resumable")


def choose_precision(cfg: TrainConfig) -> tuple[str, str]:
    """(accelerator, precision): bf16-mixed where a CUDA GPU supports it, 32-bit on CPU."""
    gpu = torch.cuda.is_available() and cfg.accelerator != "cpu"
    if cfg.accelerator == "gpu" and not gpu:
        raise ValueError("train.accelerator is 'gpu' but CUDA sees no GPU; use 'auto' or 'cpu'")
    accelerator = "gpu" if gpu else "cpu"
    if cfg.precision != "auto":
        return accelerator, cfg.precision
    return accelerator, "bf16-mixed" if gpu and torch.cuda.is_bf16_supported() else "32-true"


def choose_strategy(cfg: TrainConfig, shape: GPTConfig, accelerator: str) -> tuple[Any, str]:
    """(Lightning strategy, its name): one device alone; DDP while the whole model, its gradients and
    AdamW state fit each GPU with room for activations; FSDP (sharded, a block per unit) beyond."""
    world = cfg.devices * cfg.num_nodes
    name = cfg.strategy
    if name == "auto":
        if world == 1:
            return "auto", "single"
        name = "ddp"
        if accelerator == "gpu":
            memory = sizing.memory_per_gpu(
                shape,
                micro_batch=cfg.batch_size,
                gpus=world,
                strategy="ddp",
                activation_checkpointing=cfg.activation_checkpointing,
            )
            if memory.total > 0.9 * torch.cuda.get_device_properties(0).total_memory:
                name = "fsdp"
    if name == "ddp":
        from lightning.pytorch.strategies import DDPStrategy

        backend = "nccl" if accelerator == "gpu" else "gloo"
        return DDPStrategy(process_group_backend=backend, gradient_as_bucket_view=True), "ddp"
    from lightning.pytorch.strategies import FSDPStrategy

    checkpointed = {Block} if cfg.activation_checkpointing else None
    return FSDPStrategy(auto_wrap_policy={Block}, activation_checkpointing_policy=checkpointed), "fsdp"


def use_compile(cfg: TrainConfig, accelerator: str) -> bool:
    return cfg.compile == "on" or (cfg.compile == "auto" and accelerator == "gpu")


BASE_CONTEXT = 1024  # tokens per training window from a base, unless train.block_size says otherwise


def model_config(cfg: TrainConfig, vocab_size: int, base: GPTConfig | None = None) -> GPTConfig:
    """The preset's shape, the tokenizer's vocabulary padded to a multiple of 64 (faster matmuls;
    the extra rows are never targets), and any override from the config. From a base: the base's
    shape and vocabulary, trained on windows of train.block_size tokens (at most BASE_CONTEXT and
    the base's own context when empty)."""
    overrides: dict[str, Any] = {"dropout": cfg.dropout}
    if base is not None:
        overrides["block_size"] = cfg.block_size or min(base.block_size, BASE_CONTEXT)
        return GPTConfig(**(asdict(base) | overrides))
    if cfg.block_size:
        overrides["block_size"] = cfg.block_size
    return preset(cfg.preset, vocab_size=64 * -(-vocab_size // 64), **overrides)


@dataclass
class TrainResult:
    model_config: dict[str, Any]
    parameters: int
    accelerator: str
    precision: str
    strategy: str
    world_size: int
    device_name: str
    compiled: bool
    initial: dict[str, float]
    final: dict[str, float]
    steps: int
    stopped_by: str  # max_steps, max_time, or stopped (by a callback); SIGTERM exits without a result
    train_tokens_seen: int
    seconds: float
    tokens_per_s: float
    mfu: float | None
    checkpoint_dir: str
    curve: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_trainer(
    t: TrainConfig,
    accelerator: str,
    precision: str,
    strategy: Any,
    checkpoint_dir: str,
    logger: Logger | bool,
    extra: list[L.Callback] | tuple = (),
) -> tuple[L.Trainer, LossCurve, Timer | None]:
    curve = LossCurve()
    timer = Timer(duration=timedelta(seconds=t.max_seconds), interval="step") if t.max_seconds else None
    checkpoints = StepCheckpoints(checkpoint_dir, t.checkpoint_interval, t.eval_every, t.keep_checkpoints)
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=strategy,
        precision=precision,
        max_steps=t.max_steps,
        max_epochs=1,  # one pass of MicroBatches is the whole run; it decides what an epoch of data is
        accumulate_grad_batches=t.grad_accum,
        gradient_clip_val=t.grad_clip or None,
        val_check_interval=t.eval_every * t.grad_accum,  # counted in micro-batches
        check_val_every_n_epoch=None,
        limit_val_batches=t.eval_batches,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
        logger=logger,
        # The bar redraws every 10 steps: drawing it every step cost 3-5% of a small model's steps.
        callbacks=[curve, *extra, *([timer] if timer else []), TrainingLine(refresh_rate=10), checkpoints],
        use_distributed_sampler=False,  # MicroBatches splits the global batch across ranks itself
        enable_checkpointing=False,  # StepCheckpoints saves
        enable_model_summary=False,
        deterministic=False,
    )
    return trainer, curve, timer


def train_model(
    manifest: dict[str, Any],
    t: TrainConfig,
    checkpoint_dir: str,
    logger: Logger | bool,
    resume: bool = False,
    final_eval_batches: int = 50,
    callbacks: list[L.Callback] | tuple = (),
    base: GPT | None = None,
) -> tuple[GPT | None, TokenData, TrainResult | None]:
    """Train a GPT of the configured preset on a dataset version's token files, or continue
    pretraining `base` (its weights are the starting point, its shape the model's).

    Validation loss and bits per byte are measured before the first step too, so every run's
    curve starts from the untrained model and "how much did it learn" is one subtraction. With
    resume, training continues from the newest checkpoint in checkpoint_dir: same weights,
    optimizer, schedule, data position and random state. Ranks other than 0 return (None, data, None).
    """
    L.seed_everything(t.seed, workers=True, verbose=False)
    gpt_cfg = model_config(t, manifest["vocab_size"], base.cfg if base is not None else None)
    accelerator, precision = choose_precision(t)
    strategy, strategy_name = choose_strategy(t, gpt_cfg, accelerator)
    if accelerator == "gpu":
        torch.backends.cuda.matmul.allow_tf32 = True  # TF32 for any fp32 matmul left outside autocast
        torch.backends.cudnn.allow_tf32 = True
    workers = t.num_workers if t.num_workers is not None else (4 if accelerator == "gpu" else 0)
    data = TokenData(
        manifest, gpt_cfg.block_size, t.batch_size, t.seed, t.eval_batches, t.max_steps * t.grad_accum, workers
    )
    device_name = torch.cuda.get_device_name(0) if accelerator == "gpu" else "cpu"
    peak = sizing.peak_flops_for(device_name) if accelerator == "gpu" else None
    compiled = use_compile(t, accelerator)
    module = LanguageModel(
        asdict(gpt_cfg), asdict(t), data.bytes_per_token, peak_flops=peak[1] if peak else None, compile=compiled
    )
    if base is not None:
        module.model.load_state_dict(base.state_dict())  # rotary tables are buffers of the new block_size
    module.max_seconds = t.max_seconds
    trainer, curve, timer = build_trainer(t, accelerator, precision, strategy, checkpoint_dir, logger, callbacks)
    if timer is not None:
        module.elapsed = lambda: timer.time_elapsed("train")
    data.consumed = lambda: trainer.global_step * t.grad_accum
    if isinstance(logger, Logger):  # the config itself arrives with the module's hyperparameters
        resolved = {
            "device_name": device_name,
            "strategy": strategy_name,
            "world_size": t.devices * t.num_nodes,
            "precision": precision,
            "compiled": compiled,
            "flops_per_token": module.flops_per_token,
        }
        logger.log_hyperparams({f"resolved/{k}": v for k, v in resolved.items()})

    ckpt_path = str(latest_checkpoint(checkpoint_dir)) if resume else None
    if ckpt_path is None:
        trainer.validate(module, datamodule=data, verbose=False)  # step 0: LossCurve records it
    trainer.fit(module, datamodule=data, ckpt_path=ckpt_path, weights_only=True)
    if not trainer.is_global_zero:
        return None, data, None

    stopped_by = "max_steps" if trainer.global_step >= t.max_steps else "max_time" if timer else "stopped"
    if strategy_name == "fsdp":  # the module holds shards; the full weights are in the last checkpoint
        model = GPT(gpt_cfg)
        state = torch.load(Path(checkpoint_dir) / LAST, map_location="cpu", weights_only=True)["state_dict"]
        model.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})
    else:
        model = module.model
    model = model.float()
    world = t.devices * t.num_nodes
    # Rank 0 alone scores the windows all ranks together would have: the figure does not depend on the split.
    final = evaluate(model, data.val_dataloader(final_eval_batches * world, ranks=(0, 1)), data.bytes_per_token)
    tokens_per_step = t.batch_size * t.grad_accum * gpt_cfg.block_size * world
    seconds = module.train_seconds
    tokens_per_s = (trainer.global_step - module.start_step) * tokens_per_step / seconds if seconds else 0.0
    result = TrainResult(
        model_config=asdict(gpt_cfg),
        parameters=model.num_params(),
        accelerator=accelerator,
        precision=precision,
        strategy=strategy_name,
        world_size=world,
        device_name=device_name,
        compiled=compiled,
        initial={"val_loss": curve.val[0][1], "val_bpb": curve.val[0][2]},
        final=final,
        steps=trainer.global_step,
        stopped_by=stopped_by,
        train_tokens_seen=trainer.global_step * tokens_per_step,
        seconds=round(seconds, 2),
        tokens_per_s=round(tokens_per_s, 1),
        mfu=round(module.flops_per_token * tokens_per_s / (peak[1] * world), 4) if peak else None,
        checkpoint_dir=checkpoint_dir,
        curve=curve.to_dict(),
    )
    return model, data, result

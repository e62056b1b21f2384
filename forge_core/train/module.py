"""The LightningModule: the GPT, its optimizer and schedule, what is logged while it learns, and
the state a checkpoint needs beyond Lightning's own for a resumed run to continue exactly."""

from __future__ import annotations

import math
import random
import time
from typing import Any

import lightning as L
import numpy as np
import torch

from forge_core.model.architecture import GPTConfig
from forge_core.model.gpt import GPT

LN2 = math.log(2)
GiB = 1024**3


def bits_per_byte(nats_per_token: float, bytes_per_token: float) -> float:
    """Cross-entropy per byte of text, in bits: comparable across tokenizers, unlike loss per token."""
    return nats_per_token / LN2 / bytes_per_token


def lr_factor(step: int, warmup_steps: int, max_steps: int, min_ratio: float, time_fraction: float = 0.0) -> float:
    """Linear warm-up to the peak, then cosine decay to min_ratio of it.

    The decay ends at max_steps or, under a wall-clock budget, when the budget is spent
    (time_fraction reaches 1), whichever comes first: a run stopped by time still ends annealed.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, max((step - warmup_steps) / max(1, max_steps - warmup_steps), time_fraction))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def rng_state() -> dict[str, Any]:
    """Every random generator training touches, as tensors and plain lists (loadable with weights_only)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, keys.tolist(), pos, has_gauss, gauss],
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class LanguageModel(L.LightningModule):
    """Next-token prediction with AdamW, warm-up plus cosine decay, and bits per byte on validation."""

    def __init__(
        self,
        model: dict[str, Any],
        train: dict[str, Any],
        bytes_per_token: float,
        peak_flops: float | None = None,
        compile: bool = False,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.model = GPT(GPTConfig(**model))
        self.model.checkpoint_activations = bool(train.get("activation_checkpointing"))
        if compile:
            self.model.compile()  # in place: parameter names, and so checkpoints, stay the same
        self.train_cfg = train
        self.bytes_per_token = bytes_per_token
        self.flops_per_token = self.model.flops_per_token()
        self.peak_flops = peak_flops  # per device, bf16 dense; None where unknown (CPU)
        self.max_seconds: float | None = None  # the wall-clock budget, set by the trainer
        self.elapsed = lambda: 0.0  # seconds of training so far, across resumes (Lightning's Timer)
        self.start_step, self.train_seconds = 0, 0.0  # of this process's fit: resumed runs start late
        self._fit_started = 0.0
        self._step_started = 0.0
        self._step_tokens = 0
        self._val_nats = 0.0
        self._val_tokens = 0

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.model(idx)[0]

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        _, loss = self.model(x, y)
        self._step_tokens += x.numel()
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def on_train_start(self) -> None:
        self.start_step, self._fit_started = self.trainer.global_step, time.perf_counter()

    def on_train_end(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.train_seconds = time.perf_counter() - self._fit_started

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        if self._step_tokens == 0:
            self._step_started = time.perf_counter()

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # Once per optimizer step, after all accumulated micro-batches: the step's throughput.
        seconds = max(time.perf_counter() - self._step_started, 1e-9)
        tokens_per_s = self._step_tokens * self.trainer.world_size / seconds
        self.log("tokens_per_s", tokens_per_s, prog_bar=True)
        self.log("lr", optimizer.param_groups[0]["lr"])
        if self.peak_flops:
            # Model FLOPs utilization: the FLOPs the model shape needs per token, at the measured rate,
            # against what the devices could do at their bf16 dense peak.
            mfu = self.flops_per_token * tokens_per_s / (self.peak_flops * self.trainer.world_size)
            self.log("mfu", mfu, prog_bar=True)
        if self.device.type == "cuda":
            self.log("gpu_mem_gib", torch.cuda.max_memory_allocated(self.device) / GiB)
        self._step_tokens = 0

    def on_validation_epoch_start(self) -> None:
        self._val_nats, self._val_tokens = 0.0, 0

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        _, loss = self.model(x, y)
        self._val_nats += float(loss) * y.numel()
        self._val_tokens += y.numel()

    def on_validation_epoch_end(self) -> None:
        # Summed over the ranks, each of which scored its share of the same validation windows.
        reduce = self.trainer.strategy.reduce
        nats = float(reduce(torch.tensor(self._val_nats, dtype=torch.float64, device=self.device), reduce_op="sum"))
        tokens = int(reduce(torch.tensor(self._val_tokens, device=self.device), reduce_op="sum"))
        if not tokens:
            return
        loss = nats / tokens
        self.log("val_loss", loss, prog_bar=True)
        self.log("val_bpb", bits_per_byte(loss, self.bytes_per_token), prog_bar=True)

    def lr_lambda(self, step: int) -> float:
        cfg = self.train_cfg
        spent = self.elapsed() / self.max_seconds if self.max_seconds else 0.0
        return lr_factor(step, cfg["warmup_steps"], cfg["max_steps"], cfg["min_lr_ratio"], spent)

    def configure_optimizers(self) -> dict[str, Any]:
        cfg = self.train_cfg
        # Weight decay on matrices only: decaying norms' gains and the embedding's scale hurts.
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg["weight_decay"]},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW(
            groups, lr=cfg["learning_rate"], betas=(0.9, cfg["beta2"]), fused=self.device.type == "cuda"
        )
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: self.lr_lambda(step))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Lightning keeps weights, optimizer, schedule and loop counters; the random generators are ours.
        checkpoint["rng"] = rng_state()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "rng" in checkpoint:
            set_rng_state(checkpoint["rng"])

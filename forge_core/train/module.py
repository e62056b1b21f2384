"""The LightningModule: the GPT, its optimizer and schedule, and what is logged while it learns."""

from __future__ import annotations

import math
import time
from typing import Any

import lightning as L
import torch

from forge_core.model.gpt import GPT, GPTConfig

LN2 = math.log(2)


def bits_per_byte(nats_per_token: float, bytes_per_token: float) -> float:
    """Cross-entropy per byte of text, in bits: comparable across tokenizers, unlike loss per token."""
    return nats_per_token / LN2 / bytes_per_token


def lr_factor(step: int, warmup_steps: int, max_steps: int, min_ratio: float) -> float:
    """Linear warm-up to the peak, then cosine decay to min_ratio of it at max_steps."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, max_steps - warmup_steps))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class LanguageModel(L.LightningModule):
    """Next-token prediction with AdamW, warm-up plus cosine decay, and bits per byte on validation."""

    def __init__(self, model: dict[str, Any], train: dict[str, Any], bytes_per_token: float):
        super().__init__()
        self.save_hyperparameters()
        self.model = GPT(GPTConfig(**model))
        self.train_cfg = train
        self.bytes_per_token = bytes_per_token
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

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        if self._step_tokens == 0:
            self._step_started = time.perf_counter()

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # Once per optimizer step, after all accumulated micro-batches: the step's throughput.
        seconds = time.perf_counter() - self._step_started
        self.log("tokens_per_s", self._step_tokens * self.trainer.world_size / max(seconds, 1e-9), prog_bar=True)
        self.log("lr", optimizer.param_groups[0]["lr"])
        self._step_tokens = 0

    def on_validation_epoch_start(self) -> None:
        self._val_nats, self._val_tokens = 0.0, 0

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        _, loss = self.model(x, y)
        self._val_nats += float(loss) * y.numel()
        self._val_tokens += y.numel()

    def on_validation_epoch_end(self) -> None:
        if not self._val_tokens:
            return
        loss = self._val_nats / self._val_tokens
        self.log("val_loss", loss, prog_bar=True)
        self.log("val_bpb", bits_per_byte(loss, self.bytes_per_token), prog_bar=True)

    def configure_optimizers(self) -> dict[str, Any]:
        cfg = self.train_cfg
        # Weight decay on matrices only: decaying norms' gains and the embedding's scale hurts.
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg["weight_decay"]},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW(
            groups, lr=cfg["learning_rate"], betas=(0.9, 0.95), fused=self.device.type == "cuda"
        )
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: lr_factor(s, cfg["warmup_steps"], cfg["max_steps"], cfg["min_lr_ratio"])
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

"""Supervised fine-tuning: a model learns to answer as the assistant of packed conversations.

Full fine-tuning trains every weight; with LoRA (peft) the model's linear layers get low-rank
adapters and only those train, and the adapters are merged into the weights at the end (the
registered model is one set of weights that loads and serves like any other), while the adapter
itself is kept to be exported as a PEFT adapter. The held-out loss (nats per assistant token) is
measured on the same conversations before and after, so "did it learn the company's answers" is
one comparison.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from forge_core.chat.finetune_recipe import FinetuneConfig
from forge_core.chat.packing import Packed
from forge_core.model.gpt import GPT
from forge_core.train.module import lr_factor
from forge_core.train.trainer import choose_precision


@dataclass
class FinetuneResult:
    method: str  # full or lora
    parameters: int
    trainable_parameters: int
    steps: int
    epochs: float
    train_conversations: int
    val_conversations: int
    rows: int  # packed training rows
    assistant_tokens: int  # training tokens in the loss, per epoch
    heldout_loss_before: float | None  # nats per assistant token of the held-out conversations
    heldout_loss_after: float | None
    learning_rate: float
    precision: str
    device: str
    seconds: float
    tokens_per_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rows_of(packed: Packed) -> TensorDataset:
    return TensorDataset(packed.tokens, packed.targets, packed.positions, packed.segments)


@torch.no_grad()
def heldout_loss(model: torch.nn.Module, packed: Packed, batch_size: int = 8) -> float | None:
    """Mean cross-entropy over the assistant tokens of the packed conversations (None when there are none)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    nats, count = 0.0, 0
    for tokens, targets, positions, segments in DataLoader(rows_of(packed), batch_size=batch_size):
        n = int((targets != -1).sum())
        if not n:
            continue
        args = (tokens.to(device), targets.to(device))
        _, loss = model(*args, positions=positions.to(device), segments=segments.to(device))
        nats += float(loss) * n
        count += n
    model.train(was_training)
    return nats / count if count else None


class ChatTuning(L.LightningModule):
    """The loss of packed conversations (assistant tokens only), AdamW over what is trainable, and
    warm-up then cosine decay to a tenth of the peak."""

    def __init__(self, net: torch.nn.Module, cfg: FinetuneConfig, max_steps: int):
        super().__init__()
        self.net, self.cfg, self.max_steps = net, cfg, max_steps
        self.tokens = 0

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        tokens, targets, positions, segments = batch
        _, loss = self.net(tokens, targets, positions=positions, segments=segments)
        self.tokens += int((targets != -1).sum())
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self) -> dict[str, Any]:
        params = [p for p in self.net.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": self.cfg.weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW(groups, lr=self.cfg.peak_learning_rate(), betas=(0.9, 0.95))
        warmup = max(1, round(self.cfg.warmup_fraction * self.max_steps)) if self.cfg.warmup_fraction else 0
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: lr_factor(step, warmup, self.max_steps, 0.1)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def with_lora(model: GPT, cfg: FinetuneConfig) -> torch.nn.Module:
    """The model wrapped by peft with adapters on cfg.lora_targets; the rest is frozen."""
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout, target_modules=cfg.lora_targets
    )
    return get_peft_model(model, lora)


def finetune(
    model: GPT,
    train: Packed,
    val: Packed | None,
    cfg: FinetuneConfig,
    logger: Any = False,
    adapter_dir: str | Path | None = None,
) -> tuple[GPT, FinetuneResult]:
    """Fine-tune a copy of `model` on the packed training rows; returns the tuned model (adapters
    merged) and what was measured. With cfg.lora and adapter_dir, the trained adapter is saved
    there as a PEFT adapter over Forge's module names before it is merged."""
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    accelerator, precision = choose_precision(cfg)
    net: torch.nn.Module = copy.deepcopy(model).float().train()
    before = heldout_loss(net, val) if val is not None else None
    if cfg.lora:
        net = with_lora(net, cfg)
    batch = min(cfg.batch_size, len(train.tokens))
    per_epoch = math.ceil(len(train.tokens) / batch)
    steps = cfg.max_steps or per_epoch * cfg.epochs
    loader = DataLoader(
        rows_of(train), batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(cfg.seed)
    )
    module = ChatTuning(net, cfg, steps)
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=1,
        precision=precision,
        max_steps=steps,
        max_epochs=-1,
        logger=logger,
        log_every_n_steps=1,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=False,
        num_sanity_val_steps=0,
    )
    started = time.perf_counter()
    trainer.fit(module, train_dataloaders=loader)
    seconds = time.perf_counter() - started
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    if cfg.lora:
        if adapter_dir is not None:
            net.save_pretrained(str(adapter_dir))
        net = net.merge_and_unload()
    tuned: GPT = net.float().cpu().eval()
    after = heldout_loss(tuned, val) if val is not None else None
    result = FinetuneResult(
        method="lora" if cfg.lora else "full",
        parameters=tuned.num_params(),
        trainable_parameters=trainable,
        steps=trainer.global_step,
        epochs=round(trainer.global_step / per_epoch, 2),
        train_conversations=sum(len(r) for r in train.conversations),
        val_conversations=sum(len(r) for r in val.conversations) if val is not None else 0,
        rows=len(train.tokens),
        assistant_tokens=int((train.targets != -1).sum()),
        heldout_loss_before=before,
        heldout_loss_after=after,
        learning_rate=cfg.peak_learning_rate(),
        precision=precision,
        device=torch.cuda.get_device_name(0) if accelerator == "gpu" else "cpu",
        seconds=round(seconds, 2),
        tokens_per_s=round(module.tokens / seconds, 1) if seconds else 0.0,
    )
    return tuned, result


@torch.no_grad()
def sample_answers(
    model: GPT, tokenizer: Any, spec: Any, conversations: list[Any], max_new_tokens: int = 48
) -> list[dict[str, str]]:
    """The tuned model's greedy reply to the last user turn of each held-out conversation, beside the
    reply its author wrote: what fine-tuning taught, in words."""
    from forge_core.chat.template import render

    out = []
    for c in conversations:
        last = max(i for i, m in enumerate(c.messages) if m["role"] == "assistant")
        prompt = render(spec.template, c.messages[:last], spec.specials, add_generation_prompt=True)
        ids = tokenizer.encode(prompt, add_special_tokens=False).ids[-(model.cfg.block_size - max_new_tokens) :]
        row = model.generate_batch([ids], max_new_tokens, 0.0, stop_ids=set(spec.stop_ids))[0][len(ids) :]
        reply = tokenizer.decode([t for t in row if t not in spec.stop_ids])
        question = c.messages[last - 1]["content"] if last else ""
        out.append({"doc_id": c.doc_id, "prompt": question, "expected": c.messages[last]["content"], "reply": reply})
    return out

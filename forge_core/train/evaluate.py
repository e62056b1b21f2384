"""Held-out loss, perplexity and bits per byte: of the validation split after training, and of any
text file a user brings (`forge eval`). Torch only, so it runs where training runs."""

from __future__ import annotations

import math

import torch
from torch.utils.data import DataLoader

from forge_core.model.gpt import GPT
from forge_core.train.module import bits_per_byte


@torch.no_grad()
def evaluate(model: GPT, batches: DataLoader, bytes_per_token: float) -> dict[str, float]:
    """Token-weighted mean loss over the batches, and what it means per token and per byte."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    nats, tokens = 0.0, 0
    for x, y in batches:
        _, loss = model(x.to(device), y.to(device))
        nats += float(loss) * y.numel()
        tokens += y.numel()
    model.train(was_training)
    if not tokens:
        raise ValueError("no validation tokens to evaluate on")
    loss = nats / tokens
    return {
        "val_loss": loss,
        "perplexity": math.exp(min(loss, 50.0)),
        "val_bpb": bits_per_byte(loss, bytes_per_token),
        "val_tokens": tokens,
    }


@torch.no_grad()
def score_tokens(model: GPT, tokens: list[int] | torch.Tensor, n_bytes: int, start: int, batch_size: int = 8):
    """Loss per token and bits per byte of a whole text, every token scored.

    The text's tokens follow `start` (end-of-text: a document begins), so even the first token is
    predicted, and n_bytes is the whole text's UTF-8 length: the bits are spent on exactly those
    bytes. Windows of block_size do not overlap, so a token sees the context since its window began.
    """
    model.eval()
    device = next(model.parameters()).device
    ids = torch.as_tensor([start, *list(tokens)], dtype=torch.long)
    T = model.cfg.block_size
    n_full = (len(ids) - 1) // T
    windows = [(ids[s : s + T], ids[s + 1 : s + T + 1]) for s in range(0, n_full * T, T)]
    if n_full * T < len(ids) - 1:  # the shorter last window
        windows.append((ids[n_full * T : -1], ids[n_full * T + 1 :]))
    nats, scored = 0.0, 0
    for i in range(0, len(windows), batch_size):
        for group in _same_length(windows[i : i + batch_size]):
            x = torch.stack([w[0] for w in group]).to(device)
            y = torch.stack([w[1] for w in group]).to(device)
            _, loss = model(x, y)
            nats += float(loss) * y.numel()
            scored += y.numel()
    if not scored:
        raise ValueError("the text holds no tokens to score")
    loss = nats / scored
    return {
        "loss_per_token": loss,
        "perplexity": math.exp(min(loss, 50.0)),
        "bits_per_byte": nats / math.log(2) / max(n_bytes, 1),
        "tokens": scored,
        "bytes": n_bytes,
    }


def _same_length(windows: list[tuple[torch.Tensor, torch.Tensor]]) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
    """Split a batch where the last, shorter window cannot stack with the full ones."""
    full = [w for w in windows if len(w[0]) == len(windows[0][0])]
    return [full] + ([windows[len(full) :]] if len(full) < len(windows) else [])

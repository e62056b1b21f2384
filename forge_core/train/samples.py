"""Continuations of held-out documents after training: what the model learned, in words."""

from __future__ import annotations

from typing import Any

import polars as pl
import torch

from forge_core.model.gpt import GPT
from forge_core.train.data import TokenStream
from forge_core.train.recipe import EvalConfig


def prompt_offsets(index: pl.DataFrame, n: int) -> list[tuple[str, int, int]]:
    """(doc_id, offset in the validation stream, length) of n validation documents, a fixed choice."""
    val = index.filter(pl.col("split") == "val").sort("shard", "start")
    shard_tokens = val.group_by("shard").agg(pl.col("length").sum()).sort("shard")
    base = dict(zip(shard_tokens["shard"], shard_tokens["length"].cum_sum() - shard_tokens["length"], strict=True))
    chosen = val.sort("doc_id").head(n)  # by doc_id: a stable pick that does not favour early shards
    return [
        (d, int(base[s]) + int(start), int(length))
        for d, s, start, length in chosen.select("doc_id", "shard", "start", "length").iter_rows()
    ]


@torch.no_grad()
def sample_continuations(
    model: GPT, tokenizer: Any, val: TokenStream, index: pl.DataFrame, cfg: EvalConfig, eot: int, seed: int
) -> list[dict[str, str]]:
    """Continue the opening tokens of a few validation documents: what the model learned, in words."""
    model.eval()
    device = next(model.parameters()).device
    torch.manual_seed(seed)
    out = []
    for doc_id, offset, length in prompt_offsets(index, cfg.samples):
        prompt = val.read(offset, min(cfg.prompt_tokens, length - 1))
        idx = torch.tensor(prompt, dtype=torch.long, device=device)[None]
        generated = model.generate(idx, cfg.max_new_tokens, temperature=cfg.temperature, top_k=cfg.top_k, stop=eot)
        new = [t for t in generated[0, len(prompt) :].tolist() if t != eot]
        out.append(
            {"doc_id": doc_id, "prompt": tokenizer.decode(prompt.tolist()), "continuation": tokenizer.decode(new)}
        )
    return out

"""The two things evaluation asks of a model: how likely a continuation is after a context, and
what it says next when it always takes the likeliest token.

Both follow lm-evaluation-harness's conventions for a Hugging Face model, so a Forge model scores
as any other model would on the same task: a context's trailing whitespace belongs to the
continuation, which is tokenized as part of the whole text (a word's leading space is part of its
token in a byte-level BPE), and a context too long for the model keeps its last tokens.

Batches are made from requests sorted by length and then by their tokens, never by the order they
came in: the same requests give the same batches, hence the same floating-point sums, whether
`forge eval --questions` or the harness asked for them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

Pair = tuple[list[int], list[int]]  # (context tokens, continuation tokens)


def document_start(loaded: Any) -> int | None:
    """The token a text starts after: an imported base's own beginning of sequence where its
    bundle records one, else the end of text Forge's models saw between documents in training."""
    config = getattr(loaded, "artifacts", {}).get("config")
    if config:
        bos = json.loads(Path(config).read_text(encoding="utf-8")).get("forge", {}).get("bos_token_id")
        if isinstance(bos, int):
            return bos
    return loaded.eos_id


def stop_ids(loaded: Any, spec: Any | None) -> set[int]:
    """Where a reply ends: the chat spec's end of turn and end of text, or the end of text."""
    if spec is not None:
        return set(spec.stop_ids)
    return {loaded.eos_id} if loaded.eos_id is not None else set()


def encode(tokenizer: Any, text: str) -> list[int]:
    return tokenizer.encode(text, add_special_tokens=False).ids


def encode_pair(tokenizer: Any, context: str, continuation: str, start: int | None) -> Pair:
    """Context and continuation tokens as the model reads the whole text; `start` (None for a
    rendered conversation, whose template marks its own beginning) goes before the context."""
    spaces = len(context) - len(context.rstrip())
    if spaces:
        context, continuation = context[:-spaces], context[-spaces:] + continuation
    whole, head = encode(tokenizer, context + continuation), encode(tokenizer, context)
    prefix = [start] if start is not None else []
    if not prefix and not head:
        raise ValueError("an empty context needs a start token to condition on")
    return prefix + head, whole[len(head) :]


@torch.no_grad()
def continuation_logprobs(model: Any, pairs: list[Pair], batch_size: int = 8) -> list[tuple[float, bool]]:
    """(summed log-probability of each continuation's tokens, whether greedy decoding would have
    produced exactly them), in the order of `pairs`."""
    limit = model.cfg.block_size
    device = next(model.parameters()).device
    out: list[tuple[float, bool]] = [(0.0, True)] * len(pairs)
    order = sorted((i for i, (_, cont) in enumerate(pairs) if cont), key=lambda i: (-sum(map(len, pairs[i])), pairs[i]))
    for b in range(0, len(order), batch_size):
        rows = []
        for i in order[b : b + batch_size]:
            context, continuation = pairs[i]
            if len(continuation) > limit:
                raise ValueError(f"a continuation of {len(continuation)} tokens exceeds the context of {limit}")
            whole = (context + continuation)[-(limit + 1) :]
            rows.append((i, whole[:-1], continuation))
        width = max(len(inputs) for _, inputs, _ in rows)
        tokens = torch.zeros(len(rows), width, dtype=torch.long, device=device)
        for r, (_, inputs, _) in enumerate(rows):
            tokens[r, : len(inputs)] = torch.tensor(inputs, device=device)  # right padding: causal, unseen
        logits, _ = model(tokens)
        for r, (i, inputs, continuation) in enumerate(rows):
            n = len(continuation)
            logp = logits[r, len(inputs) - n : len(inputs)].float().log_softmax(dim=-1)
            target = torch.tensor(continuation, device=device)
            total = float(logp.gather(-1, target[:, None]).sum())
            out[i] = (total, bool((logp.argmax(dim=-1) == target).all()))
    return out


@torch.no_grad()
def greedy_continuations(
    model: Any, prompts: list[list[int]], max_new_tokens: int, stop_ids: set[int], batch_size: int = 8
) -> list[list[int]]:
    """The tokens each prompt is continued with, always the likeliest, up to a stop token (not
    included) or max_new_tokens."""
    out: list[list[int]] = [[] for _ in prompts]
    order = sorted(range(len(prompts)), key=lambda i: (len(prompts[i]), prompts[i]))
    for b in range(0, len(order), batch_size):
        batch = order[b : b + batch_size]
        rows = model.generate_batch([prompts[i] for i in batch], max_new_tokens, temperature=0.0, stop_ids=stop_ids)
        for i, row in zip(batch, rows, strict=True):
            new = row[len(prompts[i]) :]
            out[i] = new[:-1] if new and new[-1] in stop_ids else new
    return out

"""Incremental decoding: the key-value cache, batches of prompts of different lengths, and packed
sequences give the same numbers as the plain forward pass they replace."""

from __future__ import annotations

import torch

from forge_core.model.architecture import GPTConfig
from forge_core.model.gpt import GPT

CFG = GPTConfig(vocab_size=101, block_size=48, n_layer=2, n_head=4, n_embd=64, n_kv_head=2)


def model() -> GPT:
    torch.manual_seed(0)
    return GPT(CFG).eval()


def greedy_without_cache(m: GPT, prompt: list[int], n: int) -> list[int]:
    """The reference: the whole sequence through the model for every new token (sliding past the context)."""
    idx = torch.tensor([prompt])
    for _ in range(n):
        logits, _ = m(idx[:, -m.cfg.block_size :])
        idx = torch.cat((idx, logits[:, -1].argmax(-1, keepdim=True)), dim=1)
    return idx[0].tolist()


def test_cached_greedy_decoding_equals_recomputing_everything_even_past_the_context():
    m = model()
    prompt = list(range(5, 25))
    for n in (10, 40):  # 20 + 40 tokens run past block_size 48: the window slides
        assert m.generate_batch([prompt], n, temperature=0.0) == [greedy_without_cache(m, prompt, n)]


def test_a_batch_of_prompts_of_different_lengths_decodes_as_each_alone():
    m = model()
    prompts = [[3, 4, 5], list(range(10, 30)), [7], list(range(40, 52))]
    together = m.generate_batch(prompts, 12, temperature=0.0)
    alone = [m.generate_batch([p], 12, temperature=0.0)[0] for p in prompts]
    assert together == alone


def test_generation_stops_at_a_stop_token_per_row():
    m = model()
    full = m.generate_batch([[1, 2, 3]], 10, temperature=0.0)[0]
    stop = full[5]
    assert m.generate_batch([[1, 2, 3]], 10, temperature=0.0, stop_ids={stop})[0] == full[: full.index(stop, 3) + 1]


def test_packed_sequences_give_the_loss_of_each_sequence_alone():
    """Two sequences packed in one row (segments, positions restarting at 0) and the same two run
    separately: the summed fp32 losses agree within 1e-5."""
    m = model()
    a, b = torch.arange(3, 23), torch.arange(50, 70)
    ta, tb = torch.roll(a, -1), torch.roll(b, -1)
    ta[-1] = tb[-1] = -1  # the last token of each has no target inside its own sequence
    _, la = m(a[None], ta[None])
    _, lb = m(b[None], tb[None])
    packed = torch.cat((a, b))[None]
    targets = torch.cat((ta, tb))[None]
    positions = torch.cat((torch.arange(20), torch.arange(20)))[None]
    segments = torch.cat((torch.full((20,), 1), torch.full((20,), 2)))[None]
    _, lp = m(packed, targets, positions=positions, segments=segments)
    assert abs(lp.item() - (la.item() + lb.item()) / 2) < 1e-5

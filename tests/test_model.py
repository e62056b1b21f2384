"""The transformer: causal, tied, the size the table says, position-relative, and able to learn."""

from __future__ import annotations

import math

import pytest
import torch

from forge_core.model.architecture import GPTConfig, preset
from forge_core.model.gpt import GPT, apply_rope, rope_tables

CFG = GPTConfig(vocab_size=97, block_size=32, n_layer=2, n_head=4, n_embd=64)


@pytest.fixture
def model() -> GPT:
    torch.manual_seed(0)
    return GPT(CFG).eval()


def test_initial_loss_is_that_of_a_uniform_guess(model):
    idx, targets = torch.randint(0, CFG.vocab_size, (2, 4, 32))
    logits, loss = model(idx, targets)
    assert logits.shape == (4, 32, CFG.vocab_size)
    assert abs(loss.item() - math.log(CFG.vocab_size)) < 0.3


def test_no_position_sees_the_future(model):
    idx = torch.randint(0, CFG.vocab_size, (1, 20))
    changed = idx.clone()
    changed[0, 12] = (changed[0, 12] + 1) % CFG.vocab_size
    a, _ = model(idx)
    b, _ = model(changed)
    assert torch.allclose(a[0, :12], b[0, :12], atol=1e-5)
    assert not torch.allclose(a[0, 12:], b[0, 12:], atol=1e-5)


def test_output_head_is_the_embedding_and_the_count_matches_the_formula(model):
    assert model.head.weight is model.embed.weight
    V, d, L, h = CFG.vocab_size, CFG.n_embd, CFG.n_layer, CFG.ffn_hidden
    assert model.num_params() == V * d + L * (4 * d * d + 3 * d * h + 2 * d) + d
    assert model.flops_per_token() > 6 * model.num_params()


def test_rope_scores_depend_only_on_relative_position():
    cos, sin = rope_tables(GPTConfig(vocab_size=2, block_size=64, n_head=1, n_embd=16))
    q, k = torch.randn(1, 1, 1, 16), torch.randn(1, 1, 1, 16)

    def score(m: int, n: int) -> float:
        qm = apply_rope(q, cos[m : m + 1], sin[m : m + 1])
        kn = apply_rope(k, cos[n : n + 1], sin[n : n + 1])
        return (qm * kn).sum().item()

    assert score(3, 1) == pytest.approx(score(40, 38), abs=1e-4)
    assert score(3, 1) != pytest.approx(score(3, 2), abs=1e-4)


def test_it_learns_a_repeating_sequence():
    torch.manual_seed(0)
    model = GPT(CFG)
    pattern = torch.arange(0, 32) % 7
    idx, targets = pattern[:-1].unsqueeze(0).repeat(8, 1), pattern[1:].unsqueeze(0).repeat(8, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(60):
        _, loss = model(idx, targets)
        first = first or loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first / 10
    out = model.eval().generate(pattern[:5].unsqueeze(0), max_new_tokens=10, temperature=0)
    assert out[0, 5:].tolist() == (torch.arange(5, 15) % 7).tolist()


def test_generation_stops_at_the_stop_token_and_respects_the_context(model):
    out = model.generate(torch.zeros(2, 40, dtype=torch.long), max_new_tokens=5, top_k=5)
    assert out.shape == (2, 45)
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 33, dtype=torch.long))


def test_presets_and_their_errors():
    assert preset("tiny", 1000).n_layer == 2
    assert preset("small", 1000, block_size=128).block_size == 128
    with pytest.raises(ValueError, match="tiny, mini"):
        preset("huge", 1000)
    with pytest.raises(ValueError, match="heads"):
        GPTConfig(vocab_size=10, n_head=3, n_embd=64)

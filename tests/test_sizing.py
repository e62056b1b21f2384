"""Sizing a run: the arithmetic matches the model and a hand count, and the advice is sensible."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from typer.testing import CliRunner

from forge.cli import app
from forge_core.model.advice import MEMORY_HEADROOM, format_report, parse_tokens, recommend
from forge_core.model.architecture import PRESETS, GPTConfig, preset
from forge_core.model.gpt import GPT
from forge_core.model.sizing import (
    GPUS,
    activation_bytes,
    flops_per_token,
    memory_per_gpu,
    param_count,
    peak_flops_for,
    training_flops,
)

# n_layer=2, n_head=4, n_embd=128, block_size=256, vocab 1024; d = 128.
# ffn_hidden = 64 * ceil(8 * 128 / 3 / 64) = 64 * ceil(5.33) = 384 = f
SMALL = GPTConfig(n_layer=2, n_head=4, n_embd=128, block_size=256, vocab_size=1024)


def test_parameters_flops_and_memory_match_a_hand_count():
    assert SMALL.ffn_hidden == 384
    # per layer: norms 2d = 256, qkv 3d^2 = 49_152, proj d^2 = 16_384, SwiGLU 3df = 147_456 -> 213_248
    # N = embedding Vd 131_072 + 2 layers 426_496 + final norm 128 = 557_696
    assert param_count(SMALL) == 557_696
    # 6N = 3_346_176; attention 12 * L * d * T = 12 * 2 * 128 * 256 = 786_432
    assert flops_per_token(SMALL) == 4_132_608
    assert training_flops(SMALL, 1000) == 4_132_608_000

    # ddp, micro-batch 4 (1024 tokens). Matmul weights: per block 4d^2 + 3df = 212_992, twice, plus
    # the tied head Vd = 131_072 -> 557_056, each with a 2-byte bf16 copy.
    m = memory_per_gpu(SMALL, micro_batch=4)
    assert m.weights == 4 * 557_696 + 2 * 557_056 == 3_344_896
    assert m.gradients == 4 * 557_696 == 2_230_784
    assert m.optimizer == 8 * 557_696 == 4_461_568
    # per token: layers 2 * (36d + 8f) = 2 * (4608 + 3072) = 15_360, final norm and head input
    # 10d = 1280, logits 10V = 10_240 -> 26_880; times 1024 tokens
    assert m.activations == 26_880 * 1024 == 27_525_120
    assert m.total == 3_344_896 + 2_230_784 + 4_461_568 + 27_525_120

    # fsdp over 4 GPUs: the 16 bytes per parameter shard; the bf16 copies do not; two gathered fp32
    # units of the largest one, a block (212_992 + 2d = 213_248) > the embedding (131_072).
    f = memory_per_gpu(SMALL, micro_batch=4, gpus=4, strategy="fsdp")
    assert f.weights == 557_696 + 1_114_112 + 2 * 4 * 213_248
    assert (f.gradients, f.optimizer, f.activations) == (557_696, 1_115_392, m.activations)

    # checkpointing: each block keeps its fp32 input 4d = 512, one block is live in full (7680)
    c = memory_per_gpu(SMALL, micro_batch=4, activation_checkpointing=True)
    assert c.activations == (2 * 512 + 7680 + 1280 + 10_240) * 1024
    assert (c.weights, c.gradients, c.optimizer) == (m.weights, m.gradients, m.optimizer)


@pytest.mark.parametrize("name", list(PRESETS))
def test_param_count_is_the_models_own_count_for_every_preset(name):
    cfg = preset(name, vocab_size=32768)
    with torch.device("meta"):  # the shapes without the memory: 1b would take ~5 GB on CPU
        model = GPT(cfg)
    assert param_count(cfg) == model.num_params()
    assert flops_per_token(cfg) == model.flops_per_token()


@pytest.mark.parametrize(
    "cfg",
    [
        GPTConfig(vocab_size=97, block_size=32, n_layer=3, n_head=2, n_embd=52),
        GPTConfig(vocab_size=50_257, block_size=100, n_layer=1, n_head=5, n_embd=330),
    ],
)
def test_param_count_holds_for_odd_shapes(cfg):
    with torch.device("meta"):
        assert param_count(cfg) == GPT(cfg).num_params()


def test_activation_count_is_what_autograd_saves():
    """Bytes saved for backward per token under bf16 autocast, measured by saved-tensor hooks on
    CPU; the difference of two batch sizes drops what does not grow with tokens (bf16 weights)."""
    cfg = GPTConfig(vocab_size=1024, block_size=64, n_layer=2, n_head=4, n_embd=128)
    torch.manual_seed(0)
    model = GPT(cfg)

    def saved_bytes(batch: int) -> int:
        storages: dict[int, int] = {}

        def pack(t: torch.Tensor) -> torch.Tensor:
            storages.setdefault(t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
            return t

        idx, targets = torch.randint(0, cfg.vocab_size, (2, batch, cfg.block_size))
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), torch.autocast("cpu", torch.bfloat16):
            model(idx, targets)
        weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
        return sum(n for ptr, n in storages.items() if ptr not in weights)

    measured = (saved_bytes(4) - saved_bytes(2)) / (2 * cfg.block_size)
    # activation_bytes also counts the transient bf16 logits and their fp32 copy (6 bytes per entry)
    predicted = activation_bytes(cfg, micro_batch=1) / cfg.block_size - 6 * cfg.vocab_size
    assert measured == pytest.approx(predicted, rel=0.01)


def test_too_little_data_gets_the_smallest_preset_and_an_overfit_warning():
    rec = recommend(tokens=10_000_000, gpus=1, gpu_type="a100", hours=10)
    assert rec.preset == "tiny"
    assert rec.tokens_per_parameter < 20
    assert any("overfit" in note and "92.4M" in note for note in rec.notes)


def test_data_sets_the_size_when_time_is_plentiful():
    rec = recommend(tokens=parse_tokens("2.5B"), gpus=8, gpu_type="h100", hours=24)
    assert (rec.preset, rec.strategy, rec.train_tokens) == ("125m", "ddp", 2_500_000_000)
    assert rec.parameters <= 2.5e9 / 20 < param_count(preset("350m", 32768))
    assert rec.estimated_hours == pytest.approx(rec.flops / (8 * 989.4e12 * 0.4) / 3600)


def test_lots_of_data_and_time_get_the_largest_preset():
    rec = recommend(tokens=10**12, gpus=64, gpu_type="h200", hours=24 * 30)
    assert rec.preset == "1b"
    assert rec.estimated_hours < 24 * 30


def test_a_short_budget_picks_a_smaller_model_that_sees_all_the_data():
    rec = recommend(tokens=parse_tokens("2.5B"), gpus=1, gpu_type="a100", hours=2)
    assert rec.preset == "small"
    assert rec.estimated_hours <= 2
    assert any("125m" in note and "one pass takes" in note for note in rec.notes)


def test_when_no_pass_fits_the_time_sets_the_size_and_the_tokens():
    rec = recommend(tokens=10**13, gpus=8, gpu_type="h100", hours=24)
    assert rec.preset == "1b"  # 20 tokens per parameter (23.6B) fit in 24 h; all 10T do not
    assert 20 * rec.parameters < rec.train_tokens < rec.tokens
    assert rec.estimated_hours == pytest.approx(24, rel=1e-6)
    assert any(note.startswith("time is the limit") for note in rec.notes)


def test_fsdp_when_the_model_does_not_fit_one_gpu():
    rec = recommend(tokens=10**12, gpus=8, gpu_type="l40s", hours=24 * 300)
    usable = MEMORY_HEADROOM * GPUS["l40s"].memory_bytes
    assert rec.preset == "760m"
    assert rec.strategy == "fsdp"
    assert memory_per_gpu(rec.shape, micro_batch=8).total > usable >= rec.memory.total
    assert next(r for r in rec.alternatives if r.preset == "1b").strategy is None


def test_the_report_shows_the_breakdown_and_every_preset():
    text = format_report(recommend(tokens=parse_tokens("2.5B"), gpus=8, gpu_type="h100", hours=24))
    for expected in ("125m", "1.9e18", "activations", "ddp", "notes", *PRESETS):
        assert expected in text


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("NVIDIA H100 80GB HBM3", ("h100", 989.4e12)),
        ("NVIDIA H100 PCIe", ("h100", 756e12)),
        ("NVIDIA H200", ("h200", 989.4e12)),
        ("NVIDIA A100-SXM4-80GB", ("a100", 312e12)),
        ("NVIDIA A100-PCIE-40GB", ("a100", 312e12)),
        ("NVIDIA L40S", ("l40s", 362.05e12)),
        ("NVIDIA L40", None),  # half an L40S's bf16 rate: not to be mistaken for one
        ("NVIDIA GeForce RTX 4090", None),
    ],
)
def test_peak_flops_for_device_names(name, expected):
    assert peak_flops_for(name) == expected


@pytest.mark.parametrize(
    ("text", "count"),
    [("2500000000", 2_500_000_000), ("2.5B", 2_500_000_000), ("300M", 300_000_000), ("10k", 10_000),
     ("1.2T", 1_200_000_000_000), ("2_000", 2000), ("1e9", 10**9), (" 7m ", 7_000_000)],
)  # fmt: skip
def test_parse_tokens(text, count):
    assert parse_tokens(text) == count


@pytest.mark.parametrize("text", ["", "B", "2.5X", "-3M", "0", "1.5", "nanB", "infM"])
def test_parse_tokens_refuses_what_is_not_a_count(text):
    with pytest.raises(ValueError):
        parse_tokens(text)


def test_cli_size_ends_with_one_json_line():
    args = ["size", "--tokens", "2.5B", "--gpus", "8", "--gpu-type", "h100", "--hours", "24", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output.strip().splitlines()[-1])
    assert (answer["preset"], answer["strategy"], answer["tokens"]) == ("125m", "ddp", 2_500_000_000)
    assert answer["memory"]["total"] == sum(
        answer["memory"][k] for k in ("weights", "gradients", "optimizer", "activations")
    )
    assert [r["preset"] for r in answer["alternatives"]] == list(PRESETS)

    bad = CliRunner().invoke(app, ["size", "--tokens", "2.5B", "--gpus", "8", "--gpu-type", "v100", "--hours", "24"])
    assert bad.exit_code == 1
    assert "h100, h200" in bad.output


def test_sizing_and_advice_import_without_torch():
    code = "import sys, forge_core.model.advice, forge_core.model.sizing; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0

"""Training: the schedule, the batches, and a real run that learns Shakespeare."""

from __future__ import annotations

import signal
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import token_files
import torch
from conftest import SHARED

from forge_core.config import ForgeConfig, TrainConfig
from forge_core.model.architecture import GPTConfig
from forge_core.model.gpt import GPT
from forge_core.train.data import MicroBatches, TokenStream, Windows
from forge_core.train.evaluate import score_tokens
from forge_core.train.module import bits_per_byte, lr_factor
from forge_core.train.recipe import parse_duration
from forge_core.train.trainer import choose_precision, model_config, train_model

SHAKESPEARE = SHARED / "corpora" / "tinyshakespeare.txt"


def test_schedule_warms_up_linearly_then_decays_to_the_floor():
    f = [lr_factor(s, warmup_steps=10, max_steps=110, min_ratio=0.1) for s in range(111)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[10:], f[11:], strict=False))  # never rises after the peak
    assert f[60] == pytest.approx(0.55) and f[110] == pytest.approx(0.1)


def test_a_time_budget_stretches_the_decay_so_a_run_stopped_by_time_ends_annealed():
    # Halfway through the budget but only 10 of 1000 steps in: the schedule follows the clock.
    assert lr_factor(10, 5, 1000, 0.1, time_fraction=0.5) == pytest.approx(0.55)
    assert lr_factor(10, 5, 1000, 0.1, time_fraction=1.0) == pytest.approx(0.1)
    assert lr_factor(3, 5, 1000, 0.1, time_fraction=0.9) == pytest.approx(0.8)  # warm-up is by step


def test_train_config_checks_bounds_choices_and_durations_without_pydantic():
    assert [parse_duration(d) for d in ("90", "90s", "45m", "2h", "1d", "01:30:00")] == [
        90,
        90,
        2700,
        7200,
        86400,
        5400,
    ]
    for bad, message in (
        ({"max_steps": 0}, "train.max_steps must be > 0"),
        ({"strategy": "horovod"}, "train.strategy must be one of auto, ddp, fsdp"),
        ({"preset": "huge"}, "unknown preset 'huge'"),
        ({"max_time": "soon"}, "cannot read 'soon' as a duration"),
    ):
        with pytest.raises(ValueError, match=message):
            TrainConfig(**bad)


def test_micro_batches_split_the_global_batch_across_ranks_and_resume_mid_run():
    one = MicroBatches(n_windows=50, batch_size=8, total=20, seed=3)
    ranks = [MicroBatches(50, 4, 20, 3, rank=r, world_size=2) for r in (0, 1)]
    for k in range(20):  # 6 global batches per epoch: k = 6..11 is the second epoch's order
        assert ranks[0].batch(k) + ranks[1].batch(k) == one.batch(k)
    assert sorted(sum((one.batch(k) for k in range(6)), [])) == sorted(set(sum((one.batch(k) for k in range(6)), [])))
    assert one.batch(0) != one.batch(6)  # a new permutation each epoch
    resumed = MicroBatches(50, 8, 20, 3, position=lambda: 13)
    assert len(resumed) == 20 and list(resumed) == [one.batch(k) for k in range(13, 20)]
    with pytest.raises(ValueError, match="fewer than one global batch of 8 x 2 devices"):
        MicroBatches(15, 8, 20, 3, world_size=2)


def test_scoring_a_text_counts_every_token_and_every_byte():
    # A model whose logits are all zero predicts uniformly: ln(V) nats for each token, so a text of
    # 10 tokens in 25 bytes costs 10 * log2(64) = 60 bits, 2.4 bits per byte, whatever the windows.
    model = GPT(GPTConfig(vocab_size=64, block_size=4, n_layer=1, n_head=2, n_embd=16))
    torch.nn.init.zeros_(model.head.weight)
    for batch_size in (1, 8):
        scores = score_tokens(model, list(range(2, 12)), n_bytes=25, start=0, batch_size=batch_size)
        assert scores["tokens"] == 10 and scores["loss_per_token"] == pytest.approx(np.log(64), rel=1e-6)
        assert scores["bits_per_byte"] == pytest.approx(60 / 25, rel=1e-6)


def test_bits_per_byte_does_not_depend_on_how_text_was_cut_into_tokens():
    # The same 8 nats over a 4-byte text, whether 2 tokens of 4 nats or 4 tokens of 2 nats.
    assert bits_per_byte(4.0, 2.0) == pytest.approx(bits_per_byte(2.0, 1.0)) == pytest.approx(8 / np.log(2) / 4)


def test_windows_cross_file_boundaries_and_targets_are_inputs_shifted(tmp_path):
    paths = []
    for i, chunk in enumerate([np.arange(0, 5), np.arange(0, 0), np.arange(5, 13)]):
        paths.append(str(tmp_path / f"{i}.bin"))
        chunk.astype(np.uint16).tofile(paths[-1])
    stream = TokenStream(paths, "uint16")
    assert len(stream) == 13 and stream.read(3, 6).tolist() == [3, 4, 5, 6, 7, 8]
    windows = Windows(stream, block_size=4)
    assert len(windows) == 3  # (13 - 1) // 4
    x, y = windows[1]
    assert x.tolist() == [4, 5, 6, 7] and y.tolist() == [5, 6, 7, 8]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU choice")
def test_cpu_trains_in_32_bit_and_asking_for_a_gpu_without_one_is_an_error():
    assert choose_precision(TrainConfig()) == ("cpu", "32-true")
    with pytest.raises(ValueError, match="CUDA sees no GPU"):
        choose_precision(TrainConfig(accelerator="gpu"))


def test_vocabulary_is_padded_for_the_matmuls_and_context_can_be_overridden():
    cfg = model_config(TrainConfig(block_size=64), vocab_size=1000)
    assert cfg.vocab_size == 1024 and cfg.block_size == 64


@pytest.fixture(scope="module")
def shakespeare_tokens(tmp_path_factory) -> dict:
    if not SHAKESPEARE.exists():
        pytest.skip("../shared/corpora is not beside this checkout")
    return token_files.shakespeare_tokens(SHAKESPEARE, tmp_path_factory.mktemp("tokens"))


def test_training_on_shakespeare_lowers_validation_bits_per_byte(shakespeare_tokens):
    cfg = ForgeConfig.model_validate(
        {"train": {"max_steps": 80, "eval_every": 40, "batch_size": 8, "warmup_steps": 8}, "eval": {"max_batches": 20}}
    )
    checkpoints = f"{shakespeare_tokens['root']}/checkpoints"
    model, _, result = train_model(shakespeare_tokens, cfg.train, checkpoints, logger=False, final_eval_batches=20)
    start, end = result.initial["val_bpb"], result.final["val_bpb"]
    # Untrained, a 1024-token model is near-uniform: log2(1024) bits per token, about 4 per byte.
    assert start > 3.5
    assert end < start - 1.0, (start, end)
    assert result.final["perplexity"] == pytest.approx(np.exp(result.final["val_loss"]))
    assert result.steps == 80 and result.precision == ("bf16-mixed" if torch.cuda.is_available() else "32-true")
    assert {p.name for p in Path(checkpoints).iterdir()} == {"last.ckpt", "step-00000040.ckpt", "step-00000080.ckpt"}
    assert result.stopped_by == "max_steps" and [p["step"] for p in result.curve["val"]] == [0, 40, 80]
    assert [p["step"] for p in result.curve["train"]] == list(range(1, 81))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_training_uses_bf16_and_learns(shakespeare_tokens):
    cfg = ForgeConfig.model_validate({"train": {"preset": "mini", "max_steps": 40, "eval_every": 20}})
    _, _, result = train_model(shakespeare_tokens, cfg.train, f"{shakespeare_tokens['root']}/gpu-ckpt", logger=False)
    assert (result.accelerator, result.precision, result.compiled) == ("gpu", "bf16-mixed", True)
    assert torch.backends.cuda.matmul.allow_tf32
    assert result.final["val_bpb"] < result.initial["val_bpb"] - 1.0


class _SigtermAt(L.Callback):
    """Sends this process SIGTERM once training reaches `step`, as a scheduler pre-empting a job would."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.step:
            signal.raise_signal(signal.SIGTERM)


def test_sigterm_saves_a_checkpoint_and_the_resumed_run_ends_where_an_uninterrupted_one_does(
    shakespeare_tokens, tmp_path
):
    cfg = TrainConfig(max_steps=24, eval_every=8, checkpoint_every=8, batch_size=4, warmup_steps=4)
    _, _, whole = train_model(shakespeare_tokens, cfg, str(tmp_path / "whole"), logger=False, final_eval_batches=5)
    with pytest.raises(SystemExit):  # Lightning stops after the step, saves through StepCheckpoints, exits 1
        train_model(shakespeare_tokens, cfg, str(tmp_path / "cut"), logger=False, callbacks=[_SigtermAt(11)])
    assert sorted(p.name for p in (tmp_path / "cut").glob("step-*")) == ["step-00000008.ckpt", "step-00000011.ckpt"]
    _, _, resumed = train_model(
        shakespeare_tokens, cfg, str(tmp_path / "cut"), logger=False, resume=True, final_eval_batches=5
    )
    assert resumed.curve == whole.curve and resumed.final == whole.final


def test_a_time_budget_stops_training_with_the_learning_rate_annealed(shakespeare_tokens, tmp_path):
    lrs: list[float] = []

    class LastLr(L.Callback):
        def on_train_batch_end(self, trainer, *args):
            lrs.append(trainer.optimizers[0].param_groups[0]["lr"])

    cfg = TrainConfig(max_steps=100_000, max_time="4s", eval_every=10_000, batch_size=4, warmup_steps=2)
    _, _, result = train_model(
        shakespeare_tokens, cfg, str(tmp_path), logger=False, callbacks=[LastLr()], final_eval_batches=2
    )
    assert result.stopped_by == "max_time" and 2 < result.steps < 100_000
    # With 100,000 steps planned, a step-based cosine would still be at its peak; the budget ends it at the floor.
    assert lrs[-1] < 0.2 * cfg.learning_rate


def test_strategy_is_one_device_alone_ddp_when_the_model_fits_each_gpu_and_fsdp_when_it_does_not(monkeypatch):
    from types import SimpleNamespace

    from forge_core.train.trainer import choose_strategy

    shape = model_config(TrainConfig(preset="1b"), vocab_size=32768)
    assert choose_strategy(TrainConfig(), shape, "cpu")[1] == "single"
    assert choose_strategy(TrainConfig(devices=2), shape, "cpu")[1] == "ddp"
    # A 1.2B model needs ~19 GB for weights, gradients and AdamW state alone: an 80 GB GPU holds it
    # whole, a 24 GB one does not, and FSDP shards it.
    for gib, expected in ((80, "ddp"), (24, "fsdp")):
        monkeypatch.setattr(torch.cuda, "get_device_properties", lambda _, g=gib: SimpleNamespace(total_memory=g << 30))
        assert choose_strategy(TrainConfig(devices=8, batch_size=1), shape, "gpu")[1] == expected
    assert choose_strategy(TrainConfig(devices=8, strategy="fsdp"), shape, "cpu")[1] == "fsdp"

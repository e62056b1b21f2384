"""Training: the schedule, the batches, and a real run that learns Shakespeare."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from conftest import SHARED

from forge_core.checkpoint import ShardReport
from forge_core.config import ForgeConfig, TokenizeConfig, TrainConfig
from forge_core.io.workspace import Workspace
from forge_core.tokenize import encode_shard, token_manifest, train_tokenizer
from forge_core.train.data import TokenStream, Windows
from forge_core.train.module import bits_per_byte, lr_factor
from forge_core.train.trainer import choose_precision, model_config, train_model

SHAKESPEARE = SHARED / "corpora" / "tinyshakespeare.txt"


def test_schedule_warms_up_linearly_then_decays_to_the_floor():
    f = [lr_factor(s, warmup_steps=10, max_steps=110, min_ratio=0.1) for s in range(111)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[10:], f[11:], strict=False))  # never rises after the peak
    assert f[60] == pytest.approx(0.55) and f[110] == pytest.approx(0.1)


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
    ws = Workspace(str(tmp_path_factory.mktemp("tokens")))
    speeches = [s for s in SHAKESPEARE.read_text().split("\n\n") if s.strip()]
    cfg = TokenizeConfig(vocab_size=1024, validation_fraction=0.1)
    tokenizer = train_tokenizer(speeches, cfg)
    docs = pl.DataFrame({"doc_id": [f"{i:016x}" for i in range(len(speeches))], "text": speeches})
    buf = io.BytesIO()
    docs.write_parquet(buf)
    ws.write_bytes(ws.path("docs.parquet"), buf.getvalue())
    reports = []
    for i in range(2):  # two shards, so batches cross from one token file into the next
        report = ShardReport("tokenize", i, ws.path(f"tokens/part-{i:05d}"))
        part = docs[i * len(docs) // 2 : (i + 1) * len(docs) // 2]
        buf = io.BytesIO()
        part.write_parquet(buf)
        ws.write_bytes(ws.path(f"docs-{i}.parquet"), buf.getvalue())
        encode_shard(ws, ws.path(f"docs-{i}.parquet"), tokenizer.to_str(), cfg, report)
        reports.append(report)
    return token_manifest(reports, tokenizer.get_vocab_size()) | {"root": ws.root}


def test_training_on_shakespeare_lowers_validation_bits_per_byte(shakespeare_tokens):
    cfg = ForgeConfig.model_validate(
        {"train": {"max_steps": 80, "eval_every": 40, "batch_size": 8, "warmup_steps": 8}, "eval": {"max_batches": 20}}
    )
    checkpoints = f"{shakespeare_tokens['root']}/checkpoints"
    model, _, result = train_model(shakespeare_tokens, cfg, checkpoints, logger=False)
    start, end = result.initial["val_bpb"], result.final["val_bpb"]
    # Untrained, a 1024-token model is near-uniform: log2(1024) bits per token, about 4 per byte.
    assert start > 3.5
    assert end < start - 1.0, (start, end)
    assert result.final["perplexity"] == pytest.approx(np.exp(result.final["val_loss"]))
    assert result.steps == 80 and result.precision == ("bf16-mixed" if torch.cuda.is_available() else "32-true")
    assert {"last.ckpt", "step-step=40.ckpt", "step-step=80.ckpt"} <= {p.name for p in Path(checkpoints).iterdir()}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_training_uses_bf16_and_learns(shakespeare_tokens):
    cfg = ForgeConfig.model_validate({"train": {"preset": "mini", "max_steps": 40, "eval_every": 20}})
    _, _, result = train_model(shakespeare_tokens, cfg, f"{shakespeare_tokens['root']}/gpu-ckpt", logger=False)
    assert (result.accelerator, result.precision) == ("gpu", "bf16-mixed")
    assert result.final["val_bpb"] < result.initial["val_bpb"] - 1.0

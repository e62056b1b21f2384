"""Tokens per second and MFU of Forge's training on a GPU: the 125m preset at context 1024, bf16,
torch.compile, the way `forge train` runs it (train_model: Lightning, checkpoints, curve).

It needs only torch, lightning and numpy (the device machines have nothing else), so the tokens are
random ids written as a token folder; speed does not depend on what the tokens say. MFU is the
model's FLOPs per token (forge_core.model.sizing: 6N plus attention) at the measured rate against the
GPU's bf16 dense peak from the sizing table. The first `--warmup` steps (compilation, allocator
warm-up) are left out of the measured window.

    PYTHONPATH=. python benchmarks/train_gpu.py [--preset 125m] [--batch-size 32] [--steps 200] [--warmup 30]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch

from forge_core.model import sizing
from forge_core.model.architecture import GPTConfig
from forge_core.train.recipe import TrainConfig
from forge_core.train.trainer import train_model


def random_tokens(root: Path, vocab: int, n_tokens: int) -> dict:
    shard = root / "part-00000"
    shard.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", n_tokens), ("val", n_tokens // 50)):
        rng.integers(0, vocab, n, dtype=np.uint16).tofile(shard / f"{split}.bin")
    counts = {"documents": 1, "tokens": n_tokens, "bytes": 4 * n_tokens}
    return {"vocab_size": vocab, "dtype": "uint16", "shards": [str(shard)], "train": counts, "val": counts}


class StepClock(L.Callback):
    """Wall time of each optimizer step after the warm-up, synchronised with the GPU."""

    def __init__(self, warmup: int):
        self.warmup, self.times = warmup, []

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step >= self.warmup:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.times.append(time.perf_counter())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="125m")
    parser.add_argument("--block-size", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--compile", default="auto", choices=["auto", "on", "off"])
    parser.add_argument("--vocab", type=int, default=50304)
    args = parser.parse_args()
    cfg = TrainConfig(
        preset=args.preset,
        block_size=args.block_size,
        batch_size=args.batch_size,
        max_steps=args.steps,
        eval_every=10 * args.steps,
        checkpoint_every=10 * args.steps,
        warmup_steps=10,
        compile=args.compile,
        learning_rate=6e-4,
    )
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    print(f"torch {torch.__version__}, {gpu}, load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as root:
        manifest = random_tokens(
            Path(root) / "tokens", args.vocab, (args.steps + 2) * args.batch_size * args.block_size
        )
        clock = StepClock(args.warmup)
        _, _, result = train_model(manifest, cfg, f"{root}/ckpt", logger=False, final_eval_batches=2, callbacks=[clock])
    steps = len(clock.times) - 1
    seconds = clock.times[-1] - clock.times[0]
    tokens_per_s = steps * args.batch_size * args.block_size / seconds
    peak = sizing.peak_flops_for(gpu)
    flops_per_token = sizing.flops_per_token(GPTConfig(**result.model_config))
    mfu = flops_per_token * tokens_per_s / peak[1] if peak else None
    summary = {
        "device": gpu,
        "preset": args.preset,
        "parameters": result.parameters,
        "precision": result.precision,
        "compiled": result.compiled,
        "batch": args.batch_size,
        "block": args.block_size,
        "measured_steps": steps,
        "tokens_per_s": round(tokens_per_s),
        "mfu": round(mfu, 4) if mfu else None,
        "peak_flops": peak[1] if peak else None,
        "gpu_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if torch.cuda.is_available() else None,
        "load": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

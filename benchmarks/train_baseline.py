"""Forge's training against two references, side by side in one run on tinyshakespeare.

1. Quality at equal wall-clock: nanoGPT's documented CPU config (benchmarks/nanogpt_char.py, our
   own loop written from the published settings: 4 layers, 4 heads, width 128, block 64, batch 12,
   2,000 iterations, characters) against Forge trained with `train.max_time` set to the seconds
   nanoGPT's 2,000 iterations took in the same round, with Forge's own BPE tokenizer. Both are
   scored on the whole last 10% of the text, in bits per byte (the text is ASCII, so nanoGPT's
   nats per character / ln 2 is its bits per byte).
2. Overhead: Forge's Lightning loop (train_model: checkpoints, curve, logging, progress bar)
   against a plain PyTorch loop on the identical model, batches, optimizer, schedule and clipping,
   in tokens per second.

The contenders alternate (A B A B) with the load average printed beside every figure, since these
machines are shared.

    .venv/bin/python benchmarks/train_baseline.py [--rounds 2] [--overhead-steps 300]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nanogpt_char  # noqa: E402

from forge_core.tokenize import (  # noqa: E402
    EOT,
    TokenizeConfig,  # noqa: E402
    token_dtype,
    train_tokenizer,
)
from forge_core.train.data import TokenData  # noqa: E402
from forge_core.train.evaluate import score_tokens  # noqa: E402
from forge_core.train.module import LanguageModel, lr_factor  # noqa: E402
from forge_core.train.recipe import TrainConfig  # noqa: E402
from forge_core.train.trainer import model_config, train_model  # noqa: E402

CORPUS = nanogpt_char.CORPUS

# Forge's recipe for a 2-minute CPU budget: the tiny preset at a 256-token context, 1,024 BPE tokens.
FORGE = TrainConfig(
    preset="tiny",
    block_size=256,
    batch_size=16,
    learning_rate=3e-3,
    warmup_steps=30,
    min_lr_ratio=0.1,
    beta2=0.99,
    max_steps=1_000_000,  # the budget ends the run, and the schedule follows the clock
    eval_every=1_000_000,  # no validation inside the budget: both sides are scored after training
    checkpoint_every=1_000_000,
    accelerator="cpu",
)
VOCAB = 1024


def load() -> float:
    return os.getloadavg()[0]


def forge_tokens(text: str, root: Path, vocab: int) -> tuple[dict, object, str]:
    """Forge's BPE trained on the first 90% of the text, and that 90% and the last 10% as token files."""
    cut = int(len(text) * 0.9)  # nanoGPT's split, by characters
    train_text, val_text = text[:cut], text[cut:]
    tokenizer = train_tokenizer([s for s in train_text.split("\n\n") if s.strip()], TokenizeConfig(vocab_size=vocab))
    dtype = token_dtype(tokenizer.get_vocab_size())
    shard = root / "tokens" / "part-00000"
    shard.mkdir(parents=True)
    counts = {}
    for split, part in (("train", train_text), ("val", val_text)):
        ids = np.array(tokenizer.encode(part, add_special_tokens=False).ids, dtype=dtype)
        ids.tofile(shard / f"{split}.bin")
        counts[split] = {"documents": 1, "tokens": len(ids), "bytes": len(part.encode("utf-8"))}
    manifest = {"vocab_size": tokenizer.get_vocab_size(), "dtype": dtype.name, "shards": [str(shard)], **counts}
    return manifest, tokenizer, val_text


def forge_at_budget(text: str, budget_s: float, cfg: TrainConfig, vocab: int) -> dict:
    with tempfile.TemporaryDirectory() as root:
        manifest, tokenizer, val_text = forge_tokens(text, Path(root), vocab)
        t = replace(cfg, max_time=f"{budget_s:.1f}")
        model, _, result = train_model(manifest, t, f"{root}/ckpt", logger=False, final_eval_batches=1)
        eot = tokenizer.token_to_id(EOT)
        ids = tokenizer.encode(val_text, add_special_tokens=False).ids
        scores = score_tokens(model, ids, len(val_text.encode("utf-8")), start=eot, batch_size=32)
    return {
        "wall_s": result.seconds,
        "steps": result.steps,
        "tokens_per_s": result.tokens_per_s,
        "bytes_per_token": manifest["train"]["bytes"] / manifest["train"]["tokens"],
        "parameters": result.parameters,
        "val_bpb": scores["bits_per_byte"],
    }


def plain_loop(manifest: dict, t: TrainConfig) -> float:
    """The hand-written loop on Forge's model: same batches (MicroBatches), AdamW, schedule, clipping."""
    torch.manual_seed(t.seed)
    gpt_cfg = model_config(t, manifest["vocab_size"])
    data = TokenData(manifest, gpt_cfg.block_size, t.batch_size, t.seed, t.eval_batches, t.max_steps)
    module = LanguageModel(asdict(gpt_cfg), asdict(t), data.bytes_per_token)
    model = module.model.train()
    optimizer = module.configure_optimizers()["optimizer"]
    start = time.perf_counter()
    for step, (x, y) in enumerate(data.train_dataloader()):
        for group in optimizer.param_groups:
            group["lr"] = t.learning_rate * lr_factor(step, t.warmup_steps, t.max_steps, t.min_lr_ratio)
        _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return t.max_steps * t.batch_size * gpt_cfg.block_size / (time.perf_counter() - start)


def lightning_loop(manifest: dict, t: TrainConfig, root: str) -> float:
    _, _, result = train_model(manifest, t, f"{root}/ckpt-{time.time_ns()}", logger=False, final_eval_batches=1)
    return result.tokens_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--overhead-steps", type=int, default=300)
    parser.add_argument("--iters", type=int, default=2000, help="nanoGPT iterations (its documented 2,000)")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    text = CORPUS.read_text(encoding="utf-8")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cpus")
    print(f"forge recipe: {json.dumps({k: v for k, v in asdict(FORGE).items() if v != getattr(TrainConfig(), k)})}")

    if not args.skip_quality:
        print("\n## Validation bits per byte at nanoGPT's wall-clock (A B A B)")
        print(f"{'round':>5}  {'contender':<22} {'train s':>8} {'steps':>6} {'tokens/s':>9} {'val bpb':>8}  load")
        rows: dict[str, list[dict]] = {"nanoGPT (chars)": [], "forge": []}
        for r in range(args.rounds):
            nano = nanogpt_char.run(text, iters=args.iters, log=None)
            rows["nanoGPT (chars)"].append(nano)
            print(
                f"{r + 1:>5}  {'nanoGPT (chars)':<22} {nano['wall_s']:>8.1f} {args.iters:>6} "
                f"{nano['tokens_per_s']:>9,.0f} {nano['val_bpb']:>8.4f}  {load():.2f}"
            )
            forge = forge_at_budget(text, nano["wall_s"], FORGE, VOCAB)
            rows["forge"].append(forge)
            print(
                f"{r + 1:>5}  {'forge (BPE ' + str(VOCAB) + ')':<22} {forge['wall_s']:>8.1f} {forge['steps']:>6} "
                f"{forge['tokens_per_s']:>9,.0f} {forge['val_bpb']:>8.4f}  {load():.2f}"
            )
        nano_bpb = statistics.median(r["val_bpb"] for r in rows["nanoGPT (chars)"])
        forge_bpb = statistics.median(r["val_bpb"] for r in rows["forge"])
        print(
            f"\nmedian validation bits per byte: nanoGPT {nano_bpb:.4f}, forge {forge_bpb:.4f} "
            f"({forge_bpb / nano_bpb:.3f}x); parameters nanoGPT {rows['nanoGPT (chars)'][0]['parameters']:,}, "
            f"forge {rows['forge'][0]['parameters']:,}; forge bytes per token "
            f"{rows['forge'][0]['bytes_per_token']:.2f}"
        )

    print(f"\n## Overhead: Lightning loop against a plain PyTorch loop, {args.overhead_steps} steps (A B A B)")
    t = replace(FORGE, max_steps=args.overhead_steps, warmup_steps=10)
    print(f"{'round':>5}  {'contender':<22} {'tokens/s':>10}  load")
    rates: dict[str, list[float]] = {"forge (Lightning)": [], "plain PyTorch loop": []}
    with tempfile.TemporaryDirectory() as root:
        manifest, _, _ = forge_tokens(text, Path(root), VOCAB)
        # One short untimed run of each first: the first Trainer in a process pays one-off costs
        # (imports, allocator and thread-pool warm-up) that are not the loop's.
        lightning_loop(manifest, replace(t, max_steps=20), root)
        plain_loop(manifest, replace(t, max_steps=20))
        for r in range(args.rounds):
            for name in rates:
                rate = lightning_loop(manifest, t, root) if name.startswith("forge") else plain_loop(manifest, t)
                rates[name].append(rate)
                print(f"{r + 1:>5}  {name:<22} {rate:>10,.0f}  {load():.2f}")
    forge_rate, plain_rate = (statistics.median(v) for v in rates.values())
    print(
        f"\nmedian tokens/s: forge {forge_rate:,.0f}, plain loop {plain_rate:,.0f}; "
        f"forge / plain = {forge_rate / plain_rate:.3f}"
    )


if __name__ == "__main__":
    main()

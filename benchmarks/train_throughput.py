"""Training throughput: Forge's Lightning training against a plain PyTorch loop on the same model.

The reference is the loop nanoGPT writes by hand: the same GPT, AdamW, schedule, clipping and
precision, batches from the same token windows, no framework. The ratio is what Lightning and
Forge's logging cost (or save) per token. Both run in this process, alternating A B A B, with the
load average printed beside every figure, since these machines are shared.

    .venv/bin/python benchmarks/train_throughput.py [--preset tiny] [--steps 60] [--rounds 2]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

import polars as pl
import torch

from forge_core.checkpoint import ShardReport
from forge_core.config import ForgeConfig, TokenizeConfig
from forge_core.io.workspace import Workspace
from forge_core.tokenize import encode_shard, token_manifest, train_tokenizer
from forge_core.train.data import TokenData
from forge_core.train.module import LanguageModel, lr_factor
from forge_core.train.trainer import choose_precision, model_config, train_model

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "tinyshakespeare.txt"


def tokens(root: str, vocab: int) -> dict:
    ws = Workspace(root)
    speeches = [s for s in CORPUS.read_text().split("\n\n") if s.strip()]
    cfg = TokenizeConfig(vocab_size=vocab, validation_fraction=0.1)
    tokenizer = train_tokenizer(speeches, cfg)
    buf = io.BytesIO()
    pl.DataFrame({"doc_id": [f"{i:016x}" for i in range(len(speeches))], "text": speeches}).write_parquet(buf)
    ws.write_bytes(ws.path("docs.parquet"), buf.getvalue())
    report = ShardReport("tokenize", 0, ws.path("tokens/part-00000"))
    encode_shard(ws, ws.path("docs.parquet"), tokenizer.to_str(), cfg, report)
    return token_manifest([report], tokenizer.get_vocab_size())


def forge_run(manifest: dict, cfg: ForgeConfig, root: str) -> float:
    """tokens/s of train_model's Trainer.fit (Lightning), excluding the evaluations before and after."""
    _, _, result = train_model(manifest, cfg, f"{root}/ckpt-{time.time_ns()}", logger=False)
    return result.train_tokens_seen / result.seconds


def plain_run(manifest: dict, cfg: ForgeConfig) -> float:
    """The hand-written loop: same model, optimizer, schedule, clipping, batches; tokens/s of the loop."""
    t = cfg.train
    torch.manual_seed(t.seed)
    gpt_cfg = model_config(t, manifest["vocab_size"])
    data = TokenData(manifest, gpt_cfg.block_size, t.batch_size, t.seed, t.eval_batches)
    module = LanguageModel(vars(gpt_cfg), t.model_dump(), data.bytes_per_token)
    accelerator, precision = choose_precision(t)
    device = "cuda" if accelerator == "gpu" else "cpu"
    model = module.model.to(device).train()
    optimizer = module.configure_optimizers()["optimizer"]
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16-mixed")
    loader, step, seen = data.train_dataloader(), 0, 0
    start = time.perf_counter()
    while step < t.max_steps:
        for x, y in loader:
            for group in optimizer.param_groups:
                group["lr"] = t.learning_rate * lr_factor(step, t.warmup_steps, t.max_steps, t.min_lr_ratio)
            x, y = x.to(device), y.to(device)
            with autocast:
                _, loss = model(x, y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            seen += x.numel()
            step += 1
            if step == t.max_steps:
                break
    if device == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--vocab", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    cfg = ForgeConfig.model_validate(
        {
            "train": {
                "preset": args.preset,
                "max_steps": args.steps,
                "batch_size": args.batch_size,
                "eval_every": 10 * args.steps,  # no validation pass inside the timed loop
                "warmup_steps": max(1, args.steps // 10),
            }
        }
    )
    accelerator, precision = choose_precision(cfg.train)
    print(
        f"preset {args.preset}, {args.steps} steps of {args.batch_size} sequences, {accelerator} {precision}, "
        f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}"
    )
    with tempfile.TemporaryDirectory() as root:
        manifest = tokens(root, args.vocab)
        results: dict[str, list[float]] = {"forge (Lightning)": [], "plain PyTorch loop": []}
        print(f"{'round':>5}  {'contender':<20} {'tokens/s':>10}  load average (1, 5, 15 min)")
        for r in range(args.rounds):
            for name in results:  # A B A B
                rate = forge_run(manifest, cfg, root) if name.startswith("forge") else plain_run(manifest, cfg)
                results[name].append(rate)
                load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
                print(f"{r + 1:>5}  {name:<20} {rate:>10,.0f}  {load}")
    forge, plain = (statistics.median(v) for v in results.values())
    print(f"\nmedian tokens/s: forge {forge:,.0f}, plain loop {plain:,.0f}; forge / plain = {forge / plain:.2f}")


if __name__ == "__main__":
    main()

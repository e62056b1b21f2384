"""Continued pretraining on CPU: Forge's training step against a plain transformers training step,
on the same Llama-family model, the same weights and the same batch.

    .venv/bin/python benchmarks/continued_cpu.py [--rounds 4] [--steps 5] [--layers 4] [--width 256]

A random Llama with grouped-query attention (built with transformers' LlamaConfig, saved and
imported with forge_core.interop.huggingface, as `forge base import` does) is trained by both
contenders in fp32 with AdamW (lr 3e-4, Forge's continued-pretraining default): Forge's GPT
(forward with its loss, backward, clip, step) and transformers' LlamaForCausalLM (forward with
labels, backward, clip, step). Rounds alternate A B A B; each round times `--steps` steps after one
untimed warm-up step per contender. Reported: tokens/s per round and contender, the median, and
Forge / transformers as a ratio, with the load average before each round. Lightning's own overhead
over a plain loop is measured in BENCHMARKS.md ("Overhead"); this measures the model.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=4, help="rounds per contender, alternating")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per round")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    args = ap.parse_args()

    import transformers

    from forge_core.interop.huggingface import load_checkpoint

    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=args.vocab,
        hidden_size=args.width,
        intermediate_size=args.width * 8 // 3 // 64 * 64 + 64,
        num_hidden_layers=args.layers,
        num_attention_heads=args.width // 64,
        num_key_value_heads=max(1, args.width // 128),
        max_position_embeddings=args.seq,
        tie_word_embeddings=False,
        attn_implementation="sdpa",
    )
    theirs = transformers.LlamaForCausalLM(config)
    with tempfile.TemporaryDirectory() as tmp:
        theirs.save_pretrained(tmp)
        ours, _ = load_checkpoint(tmp)
    ours.train()
    theirs.train()
    batch = torch.randint(0, args.vocab, (args.batch, args.seq + 1), generator=torch.Generator().manual_seed(1))
    x, y = batch[:, :-1].contiguous(), batch[:, 1:].contiguous()

    def forge_step(opt: torch.optim.Optimizer) -> None:
        _, loss = ours(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ours.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    def hf_step(opt: torch.optim.Optimizer) -> None:
        loss = theirs(input_ids=x, labels=batch[:, :-1]).loss  # transformers shifts the labels itself
        loss.backward()
        torch.nn.utils.clip_grad_norm_(theirs.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    contenders = {
        "forge": (forge_step, torch.optim.AdamW(ours.parameters(), lr=3e-4)),
        "transformers": (hf_step, torch.optim.AdamW(theirs.parameters(), lr=3e-4)),
    }
    params = sum(p.numel() for p in ours.parameters())
    print(
        f"continued pretraining step on CPU: Llama {args.layers} layers, width {args.width}, "
        f"{config.num_attention_heads} query / {config.num_key_value_heads} key-value heads, vocab {args.vocab}, "
        f"{params:,} parameters; batch {args.batch} x {args.seq} tokens, fp32, AdamW; torch {torch.__version__}, "
        f"transformers {transformers.__version__}, {torch.get_num_threads()} threads, cpus {os.cpu_count()}"
    )
    for step, opt in contenders.values():
        step(opt)  # warm-up: allocator, kernels
    tokens = args.batch * args.seq * args.steps
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    print("\n| round | contender | load avg | seconds | tokens/s |\n| ---: | --- | --- | ---: | ---: |")
    for r in range(args.rounds):
        for name, (step, opt) in contenders.items():
            load = loadavg()
            start = time.perf_counter()
            for _ in range(args.steps):
                step(opt)
            seconds = time.perf_counter() - start
            rates[name].append(tokens / seconds)
            print(f"| {r + 1} | {name} | {load} | {seconds:.2f} | {tokens / seconds:,.0f} |")
    forge, hf = statistics.median(rates["forge"]), statistics.median(rates["transformers"])
    print(f"\nmedian tokens/s: forge {forge:,.0f}, transformers {hf:,.0f}; forge / transformers = {forge / hf:.2f}")
    print(f"load avg at the end: {loadavg()}")


if __name__ == "__main__":
    main()

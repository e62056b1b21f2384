"""Generation on CPU: Forge's cached decoding against transformers' `generate`, on the same weights.

    .venv/bin/python benchmarks/generation_cpu.py [--preset mini] [--new 64] [--rounds 3]

A Forge model of the preset (random weights, vocabulary 8,192) is exported with
forge_core.interop.huggingface (the files `forge export --format hf` writes) and loaded back with
transformers' AutoModelForCausalLM. Both decode greedily from the same prompts (32 tokens each,
no end-of-text, so every row runs the full --new tokens), at batch 1 and batch 8. The outputs are
compared token for token (the benchmark stops if they differ: a speed is worth nothing on other
answers). Rounds alternate A B A B; printed: tokens generated per second per round, the medians,
the ratio Forge / transformers, and the load average before each round.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="mini")
    ap.add_argument("--new", type=int, default=64, help="new tokens per row")
    ap.add_argument("--prompt", type=int, default=32, help="prompt tokens per row")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    import transformers

    from forge_core.interop.huggingface import hf_config, hf_state, write_weights
    from forge_core.model.architecture import preset
    from forge_core.model.gpt import GPT

    torch.manual_seed(0)
    ours = GPT(preset(args.preset, vocab_size=8192)).eval()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "config.json").write_text(json.dumps(hf_config(ours.cfg, torch.float32, None, None)))
        write_weights(hf_state(ours), Path(tmp))
        theirs = transformers.AutoModelForCausalLM.from_pretrained(tmp, local_files_only=True).eval()
    theirs.generation_config.pad_token_id = 0
    print(
        f"greedy generation on CPU: preset {args.preset} ({ours.num_params():,} parameters), prompts of "
        f"{args.prompt} tokens, {args.new} new tokens per row, fp32; torch {torch.__version__}, transformers "
        f"{transformers.__version__}, {torch.get_num_threads()} threads, cpus {os.cpu_count()}"
    )
    print(
        "\n| batch | round | contender | load avg | seconds | new tokens/s |\n| ---: | ---: | --- | --- | ---: | ---: |"
    )
    summary = []
    for batch in (1, 8):
        prompts = torch.randint(1, 8192, (batch, args.prompt), generator=torch.Generator().manual_seed(batch))

        def forge(prompts: torch.Tensor = prompts) -> list[list[int]]:
            return ours.generate_batch(prompts.tolist(), args.new, temperature=0.0)

        def hf(prompts: torch.Tensor = prompts) -> list[list[int]]:
            with torch.no_grad():
                out = theirs.generate(
                    prompts, attention_mask=torch.ones_like(prompts), max_new_tokens=args.new, do_sample=False
                )
            return out.tolist()

        if forge() != hf():
            raise SystemExit(f"batch {batch}: Forge and transformers generate different tokens")
        rates: dict[str, list[float]] = {"forge": [], "transformers": []}
        for r in range(args.rounds):
            for name, run in (("forge", forge), ("transformers", hf)):
                load = loadavg()
                start = time.perf_counter()
                run()
                seconds = time.perf_counter() - start
                rates[name].append(batch * args.new / seconds)
                print(f"| {batch} | {r + 1} | {name} | {load} | {seconds:.2f} | {batch * args.new / seconds:,.0f} |")
        f, h = statistics.median(rates["forge"]), statistics.median(rates["transformers"])
        summary.append(
            f"batch {batch}: forge {f:,.0f}, transformers {h:,.0f} new tokens/s; forge / transformers = {f / h:.2f}"
        )
    print("\nsame greedy tokens at every batch size; medians:")
    print("\n".join(summary))
    print(f"load avg at the end: {loadavg()}")


if __name__ == "__main__":
    main()

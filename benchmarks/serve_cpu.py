"""`forge serve` on CPU: 8 chat clients at once (decoded together in batches) against the same 8
requests sent one at a time, on the same live server.

    .venv/bin/python benchmarks/serve_cpu.py [--preset tiny] [--clients 8] [--max-tokens 64] [--rounds 3]

A Forge model of the preset (random weights) with a byte-level BPE trained on data_samples/corpus
is registered into a temporary workspace and served by `forge serve` on 127.0.0.1. Each client
sends one chat completion (its own question, temperature 0.8, its own seed, max_tokens as given);
the same requests make both contenders, so both generate about the same tokens (a random model
ends at its end-of-text token now and then). Rounds alternate A B A B; printed per round: the load
average before it, its seconds, the tokens generated (from `usage`) per second over all clients,
and the median and p90 latency of a request from the moment all clients want an answer (for the
sequential contender, a request waits for the ones before it) and from its own send.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
NAME = "bench-serve"
QUESTIONS = [
    "How many days of leave do I get?",
    "What pressure does the PX-200 take?",
    "When do I file an expense claim?",
    "What are the rules for laptops?",
    "Who approves a purchase order?",
    "Where is the Lyon site?",
    "How do I reset my badge?",
    "What is the night shift rota?",
]


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def register(workspace: Path, preset_name: str) -> tuple[int, int]:
    """A random-weight Forge model of the preset, with a BPE of the sample corpus, registered as NAME."""
    import mlflow
    import torch

    from forge_core.export.bundle import save_bundle
    from forge_core.export.pyfunc import log_pyfunc
    from forge_core.io.workspace import Workspace
    from forge_core.lineage.tracking import ensure_experiment, use_workspace_tracking
    from forge_core.model.architecture import preset
    from forge_core.model.gpt import GPT
    from forge_core.tokenize import TokenizeConfig, train_tokenizer

    texts = [
        p.read_text(encoding="utf-8", errors="replace")
        for p in sorted((ROOT / "data_samples" / "corpus").rglob("*.md"))
    ]
    tokenizer = train_tokenizer(texts, TokenizeConfig(vocab_size=4096))  # the corpus may give fewer
    torch.manual_seed(0)
    model = GPT(preset(preset_name, vocab_size=tokenizer.get_vocab_size())).eval()
    bundle = save_bundle(model, tokenizer.to_str(), workspace / "bundle")
    ws = Workspace(str(workspace / "ws"))
    use_workspace_tracking(ws)
    with mlflow.start_run(experiment_id=ensure_experiment(ws, "bench")):
        log_pyfunc(bundle, NAME, ["The"])
    return model.num_params(), tokenizer.get_vocab_size()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask(client: httpx.Client, url: str, i: int, max_tokens: int) -> int:
    """One chat completion; returns the tokens it generated."""
    body = {
        "model": NAME,
        "messages": [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}],
        "max_tokens": max_tokens,
        "temperature": 0.8,
        "seed": i,
    }
    answer = client.post(f"{url}/chat/completions", json=body, timeout=300)
    answer.raise_for_status()
    return answer.json()["usage"]["completion_tokens"]


def round_of(url: str, clients: int, max_tokens: int, together: bool) -> tuple[float, int, list[float], list[float]]:
    """(seconds, tokens, latencies from the round's start, latencies from each send)."""
    since_start, since_send, tokens = [0.0] * clients, [0.0] * clients, [0] * clients
    # Each client is made (and connected) before the clock starts: a client's own set-up is not the server's time.
    sessions = [httpx.Client() for _ in range(clients)]
    for session in sessions:
        session.get(url.removesuffix("/v1") + "/health")
    start = time.perf_counter()

    def one(i: int) -> None:
        sent = time.perf_counter()
        tokens[i] = ask(sessions[i], url, i, max_tokens)
        done = time.perf_counter()
        since_start[i], since_send[i] = done - start, done - sent

    if together:
        threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        for i in range(clients):
            one(i)
    seconds = time.perf_counter() - start
    for session in sessions:
        session.close()
    return seconds, sum(tokens), since_start, since_send


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    import torch

    with tempfile.TemporaryDirectory() as tmp:
        params, vocab = register(Path(tmp), args.preset)
        port = free_port()
        cmd = [str(Path(sys.executable).parent / "forge"), "serve", NAME, "--workspace", "ws", "--port", str(port)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PREFECT_"))}
        server = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            health = f"http://127.0.0.1:{port}/health"
            while True:
                if server.poll() is not None:
                    raise SystemExit(f"forge serve exited with {server.returncode}")
                try:
                    if httpx.get(health, timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.3)
            url = f"http://127.0.0.1:{port}/v1"
            with httpx.Client() as warm:
                ask(warm, url, 0, 8)
            print(
                f"forge serve on CPU: preset {args.preset} ({params:,} parameters, random weights, BPE of {vocab:,}), "
                f"{args.clients} chat clients, max_tokens {args.max_tokens}, temperature 0.8; "
                f"torch {torch.__version__}, cpus {os.cpu_count()}"
            )
            print(
                "\n| round | contender | load avg | seconds | tokens | tokens/s | p50 latency s | p90 latency s "
                "| p50 from own send s |\n| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
            )
            rates: dict[str, list[float]] = {"batched": [], "sequential": []}
            p50s: dict[str, list[float]] = {"batched": [], "sequential": []}
            for r in range(args.rounds):
                for name in ("batched", "sequential"):
                    load = loadavg()
                    seconds, tokens, waited, own = round_of(url, args.clients, args.max_tokens, name == "batched")
                    rates[name].append(tokens / seconds)
                    p50s[name].append(statistics.median(waited))
                    print(
                        f"| {r + 1} | {name} | {load} | {seconds:.2f} | {tokens} | {tokens / seconds:,.0f} "
                        f"| {statistics.median(waited):.2f} | {p90(waited):.2f} | {statistics.median(own):.2f} |"
                    )
            b, s = statistics.median(rates["batched"]), statistics.median(rates["sequential"])
            print(
                f"\nmedians: batched {b:,.0f} tokens/s, sequential {s:,.0f} tokens/s, "
                f"batched / sequential = {b / s:.2f}; "
                f"p50 latency batched {statistics.median(p50s['batched']):.2f} s, "
                f"sequential {statistics.median(p50s['sequential']):.2f} s"
            )
            engine = httpx.get(health).json()
            print(f"batches decoded {engine['batches']}, the widest {engine['widest_batch']} requests")
            print(f"load avg at the end: {loadavg()}")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)


if __name__ == "__main__":
    main()

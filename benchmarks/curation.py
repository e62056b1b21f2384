"""Curation throughput: Forge's cleaning chain against datatrove's FineWeb steps, on the same documents.

    .venv/bin/python benchmarks/curation.py [--rounds 3] [--repeat 1] [--extract-timeout 1]
        [--contenders forge,datatrove,forge-nolang,forge-threads]

needs the benchmark-only venv with datatrove (kept out of Forge's own dependencies):

    python3 -m venv .bench-venv && .bench-venv/bin/pip install -r benchmarks/requirements-datatrove.txt

Measures documents per second per core of extraction plus cleaning over the Python documentation in
../shared/corpora/python-docs: every HTML page (extracted) and every reST source (read as text).
Each contender runs in its own subprocess, single-threaded (POLARS_MAX_THREADS, OMP, MKL, RAYON = 1),
alternating A B A B, with the load average printed beside every figure. The clock covers only the
processing of documents already in memory: not imports, not reading files, not a warm-up on the
first few documents (which loads py3langid's model, spaCy's English tokenizer and the like). Beside
the wall clock it reads the CPU time of the process and its children (datatrove extracts in a child
process): on a shared machine, docs per CPU-second leaves out the time spent waiting for a core.

- forge: forge_core.readers.html.html_to_text on the HTML bytes (Forge's ingest path), then
  forge_core.clean.clean_frame with the default CleanConfig on one polars frame: normalize,
  language id (py3langid), PII, length, Gopher repetition, Gopher quality, C4 (without the
  terminal-punctuation rule), FineWeb, word recount.
- forge-nolang: the same with clean.language.enabled off, the like-for-like row: datatrove's
  LanguageFilter needs a fastText model downloaded at run time (not allowed here), so the datatrove
  side has no language id.
- datatrove (0.10.1, the FineWeb recipe minus its URL and language filters): Trafilatura(favour_precision=True,
  timeout=--extract-timeout) on the HTML pages, then GopherRepetitionFilter, GopherQualityFilter,
  C4QualityFilter(filter_no_terminal_punct=False), FineWebQualityFilter and PIIFormatter on every
  document, chained with each step's run() over an in-memory list of Documents: what
  LocalPipelineExecutor(tasks=1, workers=1) does, without the reader and writer.
- forge-threads (not run by default): forge with polars' default thread pool.

Prints each step's time, documents in and out and drop reasons, so a reader can see the two sides
did comparable work; the medians and the ratio forge / datatrove; and, when tests/data/pii/score.py
exists, recall and decoy survival of Forge's PII redaction and of datatrove's PIIFormatter on its
labelled documents. Quote the ratio, not the absolute rates: these machines are shared.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpora" / "python-docs"
FORGE_PYTHON = REPO / ".venv" / "bin" / "python"
BENCH_PYTHON = REPO / ".bench-venv" / "bin" / "python"
PII_SCORER = REPO / "tests" / "data" / "pii" / "score.py"
WARMUP_DOCS = 8  # of each format, untimed, before the timed pass
THREAD_VARS = ("POLARS_MAX_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS")
CONTENDERS = {  # key: (label, interpreter, one thread?)
    "forge": ("forge", FORGE_PYTHON, True),
    "forge-nolang": ("forge, no language id", FORGE_PYTHON, True),
    "datatrove": ("datatrove", BENCH_PYTHON, True),
    "forge-threads": ("forge, default threads", FORGE_PYTHON, False),
}

Docs = list[tuple[str, str, bytes]]  # (path under the corpus, format, raw bytes)


def load_corpus(repeat: int, limit: int | None = None) -> Docs:
    """Every HTML page and reST file (or the first `limit` of each), the whole list `repeat` times."""
    files = sorted(CORPUS.glob("html/**/*.html"))[:limit] + sorted(CORPUS.glob("rst/**/*.rst"))[:limit]
    if not files:
        sys.exit(f"no .html or .rst files under {CORPUS}: the benchmark reads ../shared/corpora/python-docs")
    return [(str(p.relative_to(CORPUS)), p.suffix[1:], p.read_bytes()) for p in files] * repeat


def warmup_slice(docs: Docs) -> Docs:
    html = [d for d in docs if d[1] == "html"][:WARMUP_DOCS]
    return html + [d for d in docs if d[1] == "rst"][:WARMUP_DOCS]


def cpu_seconds() -> float:
    """User + system CPU time of this process, all its threads, and its children that have ended."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def versions(*packages: str) -> str:
    from importlib.metadata import version

    return ", ".join(f"{p} {version(p)}" for p in packages)


# Forge ------------------------------------------------------------------------------------------
def forge_frame_rows(docs: Docs) -> list[dict]:
    """The provenance of each document, as ingest writes it (computed before the clock starts)."""
    rows = []
    for i, (path, fmt, data) in enumerate(docs):
        uri = f"file://{CORPUS / path}"
        rows.append(
            {
                "doc_id": hashlib.sha256(f"{i}:{uri}".encode()).hexdigest()[:16],
                "source_uri": uri,
                "source_file": uri,
                "row": None,
                "raw_sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                "format": fmt,
                "parent_doc_id": None,
            }
        )
    return rows


def forge_pass(docs: Docs, cfg) -> dict:
    import polars as pl

    import forge_core.clean
    from forge_core.readers.html import html_to_text
    from forge_core.schema import INGESTED

    # clean_frame runs what clean_steps returns: wrap each step with a stopwatch and a drop counter,
    # so the report splits the time and the drops by step (the overhead is a few calls per step).
    seen: dict[str, tuple[float, dict]] = {}

    def timed(name, step):
        def run(shard):
            t = time.perf_counter()
            result = step(shard)
            seconds = time.perf_counter() - t
            dropped = result.dropped if result.dropped is not None else pl.DataFrame(schema={"reason": pl.String})
            seen[name] = (seconds, dict(dropped.group_by("reason").len().iter_rows()))
            return result

        return run

    rows = forge_frame_rows(docs)
    schema = dict(pl.from_arrow(INGESTED.empty_table()).schema)
    clean_steps = forge_core.clean.clean_steps
    forge_core.clean.clean_steps = lambda c: [(name, timed(name, step)) for name, step in clean_steps(c)]
    try:
        cpu, start = cpu_seconds(), time.perf_counter()
        texts = [html_to_text(data) if fmt == "html" else data.decode("utf-8") for _, fmt, data in docs]
        extracted = time.perf_counter()
        frame = pl.DataFrame([{**row, "text": text} for row, text in zip(rows, texts, strict=True)], schema=schema)
        out = forge_core.clean.clean_frame(frame, cfg)
        seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    finally:
        forge_core.clean.clean_steps = clean_steps
    html = [text for text, (_, fmt, _) in zip(texts, docs, strict=True) if fmt == "html"]
    steps = [["html_to_text (HTML only)", len(html), sum(1 for t in html if t.strip()), {}, extracted - start]]
    for name, (step_seconds, reasons) in seen.items():
        steps.append([name, out.counts[f"{name}.docs_in"], out.counts[f"{name}.docs_out"], reasons, step_seconds])
    return {"seconds": seconds, "cpu_seconds": cpu, "kept": out.kept.height, "steps": steps}


def run_forge(docs: Docs, language: bool) -> dict:
    import polars as pl

    from forge_core.clean.pipeline import CleanConfig

    cfg = CleanConfig.model_validate({"language": {"enabled": language}})
    forge_pass(warmup_slice(docs), cfg)
    result = forge_pass(docs, cfg)
    return {**result, "threads": pl.thread_pool_size(), "versions": versions("polars", "trafilatura", "lxml")}


# datatrove --------------------------------------------------------------------------------------
def datatrove_steps(extract_timeout: float) -> list:
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.pipeline.formatters import PIIFormatter

    return [
        Trafilatura(favour_precision=True, timeout=extract_timeout),
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(filter_no_terminal_punct=False),
        FineWebQualityFilter(),
        PIIFormatter(),
    ]


def datatrove_pass(docs: Docs, extract_timeout: float) -> dict:
    from itertools import chain

    from datatrove.data import Document

    # datatrove's readers hand the steps decoded text: decoding is outside the clock here too.
    html = [Document(text=d.decode("utf-8"), id=f"{i}:{p}") for i, (p, f, d) in enumerate(docs) if f == "html"]
    rst = [Document(text=d.decode("utf-8"), id=f"{i}:{p}") for i, (p, f, d) in enumerate(docs) if f == "rst"]
    extractor, *filters = steps = datatrove_steps(extract_timeout)
    cpu, start = cpu_seconds(), time.perf_counter()
    pipeline = chain(extractor.run(iter(html)), iter(rst))  # Trafilatura is for the HTML pages only
    for step in filters:
        pipeline = step.run(pipeline)
    kept = sum(1 for _ in pipeline)  # the extractor's child process has ended (and been reaped) by now
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    report = []
    for step in steps:
        stats = {name: int(metric.total) for name, metric in step.stats.stats.items()}
        out = stats.get("forwarded", 0) if step is not steps[-1] else stats.get("total", 0)  # a formatter keeps all
        why = {k: v for k, v in stats.items() if k.startswith("dropped_") or k in ("timeout", "clean_error")}
        if step is extractor and stats.get("dropped"):
            why["empty_extraction"] = stats["dropped"]
        report.append([step.name.split(" ", 1)[-1], stats.get("total", 0), out, why, step.stats.time_stats.total])
    return {"seconds": seconds, "cpu_seconds": cpu, "kept": kept, "steps": report}


def run_datatrove(docs: Docs, extract_timeout: float) -> dict:
    # The extractor counts an exception on a page as clean_error and drops the page: import trafilatura
    # first, so a broken install (lxml_html_clean missing) stops the run instead of dropping every page.
    import trafilatura  # noqa: F401

    datatrove_pass(warmup_slice(docs), extract_timeout)
    result = datatrove_pass(docs, extract_timeout)
    return {**result, "threads": 1, "versions": versions("datatrove", "trafilatura", "lxml", "spacy")}


# PII on the labelled set ------------------------------------------------------------------------
def score_pii(contender: str) -> dict:
    """Recall and decoy survival on tests/data/pii: Forge's own scorer, and the same measure for datatrove."""
    if contender == "forge":
        import importlib.util

        spec = importlib.util.spec_from_file_location("pii_score", PII_SCORER)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.score_labelled_set()
    from datatrove.pipeline.formatters import PIIFormatter

    redact = PIIFormatter().format
    recall: dict[str, dict] = {}
    decoys: dict[str, dict] = {}
    missed, eaten = [], []
    labels = PII_SCORER.parent / "labels.jsonl"
    for line in filter(str.strip, labels.read_text(encoding="utf-8").splitlines()):
        label = json.loads(line)
        text = redact((labels.parent / "documents" / label["document"]).read_text(encoding="utf-8"))
        for kind, value in label["pii"]:
            tally = recall.setdefault(kind, {"planted": 0, "removed": 0})
            tally["planted"] += 1
            tally["removed"] += value not in text
            if value in text:
                missed.append((label["document"], kind, value))
        for kind, value in label["decoys"]:
            tally = decoys.setdefault(kind, {"total": 0, "survived": 0})
            tally["total"] += 1
            tally["survived"] += value in text
            if value not in text:
                eaten.append((label["document"], kind, value))
    return {"recall": recall, "decoys": decoys, "missed": missed, "eaten": eaten}


def print_pii(scores: dict[str, dict]) -> None:
    forge, datatrove = scores["forge"], scores["datatrove"]
    print(f"\nPII on the labelled set ({PII_SCORER.parent.relative_to(REPO)}): share of planted values gone")
    print(f"  {'type':<14} {'planted':>7} {'forge':>7} {'datatrove':>9}")
    for kind, t in forge["recall"].items():
        gone = datatrove["recall"].get(kind, {"removed": 0})["removed"]
        print(f"  {kind:<14} {t['planted']:>7} {t['removed'] / t['planted']:>7.3f} {gone / t['planted']:>9.3f}")
    print("  decoys (dates, versions, ids, checksum-failing numbers) left intact, the kinds either side touched:")
    for kind, t in sorted(forge["decoys"].items()):
        kept, other = t["survived"], datatrove["decoys"][kind]["survived"]
        if min(kept, other) < t["total"]:
            print(f"  {kind:<14} {t['total']:>7} {kept / t['total']:>7.3f} {other / t['total']:>9.3f}")
    for name, s in scores.items():
        planted = sum(t["planted"] for t in s["recall"].values())
        removed = sum(t["removed"] for t in s["recall"].values())
        total = sum(t["total"] for t in s["decoys"].values())
        survived = sum(t["survived"] for t in s["decoys"].values())
        print(f"  {name}: recall {removed / planted:.3f} ({removed}/{planted}),", end=" ")
        print(f"decoy survival {survived / total:.3f} ({survived}/{total})")
    for doc, kind, value in forge["missed"]:
        print(f"  forge missed {kind}: {value!r} in {doc}")
    for name, s in scores.items():
        for doc, kind, value in s["eaten"]:
            print(f"  {name} ate a decoy ({kind}): {value!r} in {doc}")


# The runner -------------------------------------------------------------------------------------
def forge_sources() -> str:
    """A hash of forge_core's sources: other people edit the checkout while this runs."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "forge_core").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def run_child(key: str, args: argparse.Namespace, *extra: str) -> dict:
    """Run this script as `key` in a fresh subprocess with its own interpreter and thread settings."""
    label, python, one_thread = CONTENDERS[key]
    if not python.exists():
        hint = "python3 -m venv .bench-venv && .bench-venv/bin/pip install -r benchmarks/requirements-datatrove.txt"
        sys.exit(f"{python} not found; for datatrove create it with: {hint}")
    cmd = [str(python), __file__, "--contender", key, "--repeat", str(args.repeat)]
    cmd += ["--extract-timeout", str(args.extract_timeout), *(["--limit", str(args.limit)] if args.limit else [])]
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env |= dict.fromkeys(THREAD_VARS, "1") if one_thread else {}
    env |= {"LOGURU_LEVEL": "ERROR", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([*cmd, *extra], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{label} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def print_steps(label: str, result: dict) -> None:
    print(f"\n{label} ({result['versions']}): {result['docs']} documents in, {result['kept']} kept")
    print(f"  {'step':<24} {'seconds':>7} {'in':>5} {'out':>5}  dropped by reason")
    for step, n_in, n_out, why, seconds in result["steps"]:
        by_count = sorted(why.items(), key=lambda kv: (-kv[1], kv[0]))
        reasons = ", ".join(f"{k.removeprefix('dropped_')} {v}" for k, v in by_count)
        print(f"  {step:<24} {seconds:>7.2f} {n_in:>5} {n_out:>5}  {reasons}")
    print(f"  {'(between the steps)':<24} {result['seconds'] - sum(s[4] for s in result['steps']):>7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1, help="Repeat the corpus this many times.")
    parser.add_argument(
        "--extract-timeout", type=float, default=1.0, help="datatrove's per-page extraction timeout (its default)."
    )
    parser.add_argument(
        "--contenders", default="forge,datatrove,forge-nolang", help="Comma-separated, from: " + ",".join(CONTENDERS)
    )
    parser.add_argument("--limit", type=int, help="Only the first N files of each format (a quick smoke run).")
    parser.add_argument("--contender", help=argparse.SUPPRESS)  # set by the runner in each subprocess
    parser.add_argument("--pii", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.contender:  # a subprocess: one timed pass (or the PII scores), one JSON line
        if args.pii:
            print(json.dumps(score_pii(args.contender)))
            return
        docs = load_corpus(args.repeat, args.limit)
        if args.contender == "datatrove":
            result = run_datatrove(docs, args.extract_timeout)
        else:
            result = run_forge(docs, language=args.contender != "forge-nolang")
        print(json.dumps({"docs": len(docs), **result}))
        return

    keys = [k.strip() for k in args.contenders.split(",")]
    if unknown := [k for k in keys if k not in CONTENDERS]:
        sys.exit(f"--contenders: unknown {', '.join(unknown)}; choose from {','.join(CONTENDERS)}")
    docs = load_corpus(args.repeat, args.limit)
    n_html = sum(fmt == "html" for _, fmt, _ in docs)
    sources = forge_sources()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO)
    print(
        f"{len(docs)} documents ({n_html} HTML pages, {len(docs) - n_html} reST files; corpus x{args.repeat}), "
        f"{sum(len(d) for *_, d in docs) / 1e6:.1f} MB; cpus {os.cpu_count()}; {args.rounds} rounds; "
        f"git {head.stdout.strip() or '-'}, forge_core sources {sources}"
    )
    wall: dict[str, list[float]] = {k: [] for k in keys}
    cpu: dict[str, list[float]] = {k: [] for k in keys}
    last: dict[str, dict] = {}
    print(
        f"{'round':>5}  {'contender':<24} {'threads':>7} {'wall s':>7} {'CPU s':>7} {'docs/s':>7} {'docs/CPU-s':>10}",
        end="",
    )
    print("  load avg")
    for r in range(args.rounds):
        for key in keys:  # A B A B
            result = last[key] = run_child(key, args)
            wall[key].append(result["docs"] / result["seconds"])
            cpu[key].append(result["docs"] / result["cpu_seconds"])
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(
                f"{r + 1:>5}  {CONTENDERS[key][0]:<24} {result['threads']:>7} {result['seconds']:>7.1f} "
                f"{result['cpu_seconds']:>7.1f} {wall[key][-1]:>7.1f} {cpu[key][-1]:>10.1f}  {load}"
            )
    for key in keys:
        print_steps(CONTENDERS[key][0], last[key])
    if forge_sources() != sources:
        print(f"\nWARNING: forge_core changed during the run (now {forge_sources()}): rounds are not comparable")

    print(
        "\ndocs/s/core: documents per wall-clock second of a one-thread process; docs/CPU-s: per second of CPU time,"
        "\nwhich leaves out waiting for a core on a shared machine (and is the per-core figure for more threads)."
    )
    print(
        f"{'contender':<24} {'threads':>7} {'docs/s/core':>11} {'docs/CPU-s':>10} {'docs in':>7} {'kept':>5}"
        f" {'ratio (wall)':>12} {'ratio (CPU)':>11}"
    )
    base_wall = statistics.median(wall["datatrove"]) if "datatrove" in keys else None
    base_cpu = statistics.median(cpu["datatrove"]) if "datatrove" in keys else None
    for key in keys:
        w, c = statistics.median(wall[key]), statistics.median(cpu[key])
        per_core = f"{w:.1f}" if last[key]["threads"] == 1 else "-"
        ratios = f"{w / base_wall:>12.2f} {c / base_cpu:>11.2f}" if base_wall else f"{'-':>12} {'-':>11}"
        print(
            f"{CONTENDERS[key][0]:<24} {last[key]['threads']:>7} {per_core:>11} {c:>10.1f} {last[key]['docs']:>7}"
            f" {last[key]['kept']:>5} {ratios}"
        )

    if PII_SCORER.exists() and "datatrove" in keys:
        print_pii({key: run_child(key, args, "--pii") for key in ("forge", "datatrove")})
    else:
        print(f"\nPII scores skipped: needs {PII_SCORER.relative_to(REPO)} and the datatrove contender")


if __name__ == "__main__":
    main()

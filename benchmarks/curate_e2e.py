"""The whole `forge curate`, as a user runs it, against datatrove's MinHash dedup alone and datatrove's full chain.

    python3 benchmarks/package_corpus.py      # once: 12,891 files, 358 MB (Django and SQLAlchemy docs)
    .venv/bin/python benchmarks/curate_e2e.py [--rounds 2] [--contenders forge,dt-dedup,dt-full]
        [--limit-docs N] [--work /work/bench-e2e] [--corpus /work/bench-e2e/corpus] [--forge-src DIR]
        [--extract-timeout 1]

needs the benchmark-only venv with datatrove (kept out of Forge's own dependencies):

    python3 -m venv .bench-venv && .bench-venv/bin/pip install -r benchmarks/requirements-datatrove.txt

The corpus (benchmarks/package_corpus.py): the reST, text, Markdown and HTML files of 10 Django and 8
SQLAlchemy source distributions, real text with natural near duplicates (one manual in many releases;
SQLAlchemy's manual both as reST and as its built HTML). --limit-docs N takes the first N files of the
corpus in an interleaved order (file i of every package version, then file i + 1, ...), so that even a
small subset has every package version, HTML pages and near duplicates; the subset is hard-linked into
WORK/subset-N/ (untimed) and every contender reads those files.

Contenders, each in a fresh subprocess, alternating A B A B (forge, dt-dedup, dt-full, forge, ...):

- forge: `.venv/bin/forge curate FOLDER --workspace WS --json`, the console script a user runs, with the
  default config (default clean profile, a Dask LocalCluster of one single-threaded worker per core: 2
  here, embedded Prefect), in a fresh workspace each round so that nothing is reused (Prefect's
  database is created in it each time too, as on a user's first run). Its clock is the process's whole
  life, start to exit. Its own breakdown is the flow's "phases" in its --json result (wall seconds of
  start-up, discovery, cluster start, fingerprint, ingest, each gate, clean, dedup, cluster stop,
  publish; forge_core/timing.py), stats.json's when the result has none.
- forge-before (with --forge-src DIR, a second checkout such as a git worktree of an older commit): the
  same command run as `.venv/bin/python -c "<DIR's console-script entry point>" curate ...` with
  PYTHONPATH=DIR ahead of the editable install. Which forge_core, forge and flows each forge contender
  imports is checked with the same interpreter, environment and folder, and printed.
- forge-text: the same `forge curate` (as forge, a fresh workspace each round) on dt-dedup's input below:
  the same documents, already extracted, as JSONL files ({"id", "text"}, one document per line), which
  Forge reads as rows. What the whole Forge run costs where datatrove's dedup alone is given text too
  (issue 18's first goal on the same documents): its reading of JSONL, cleaning with PII redaction,
  dedup, three gates and publishing, start-up included.
- dt-dedup: datatrove 0.10.1's MinHash dedup alone, its four stages (MinhashDedupSignature, Buckets,
  Cluster, Filter), each a LocalPipelineExecutor with 2 workers (one task per input file, one per band,
  one, one per file: benchmarks/dedup_scale.py's run_datatrove), 5-word shingles and Forge's bands x
  rows (forge_core.dedup.minhash.bands_and_rows of the default DedupConfig). Its input is the text
  Forge's readers take out of each file (forge_core.readers.dispatch.read_records: the file's text, the
  HTML pages' extracted text), written once, untimed, as DT_TASKS JSONL files ({"id", "text"}) under
  WORK/dt-dedup-input/ and reused by later runs. Its clock covers reading that JSONL to writing the
  deduplicated JSONL. This is what datatrove spends on the one stage Forge's dedup replaces, on the
  same documents before cleaning; it does no extraction, no filtering and no validation.
- dt-full: datatrove's whole chain on the same files, read from disk: a reader (the file's bytes as
  UTF-8), Trafilatura(favour_precision=True, timeout=--extract-timeout) on the HTML files only (the
  others pass through), GopherRepetitionFilter, GopherQualityFilter, C4QualityFilter(filter_no_terminal_
  punct=False), FineWebQualityFilter, PIIFormatter (benchmarks/curation.py's datatrove steps), written as
  JSONL: one LocalPipelineExecutor of DT_TASKS tasks on 2 workers, as FineWeb's recipe runs it; then
  the four MinHash stages above on that output. Its clock covers reading the raw files to writing the
  deduplicated JSONL. It has no language id (datatrove's LanguageFilter downloads a fastText model at
  run time), no validation, no ledger and no dataset report; Forge does all of those.

Fairness: Forge's figure includes its process start-up (imports, the embedded Prefect server), the
Dask cluster, the three validation gates and publishing; datatrove's timed figures are from inside a
process whose imports are done (its process wall and CPU are printed beside them). datatrove's
extractor times out pages after --extract-timeout seconds (its default, 1 s) and drops them; Forge
reads each file with a budget of 30 s (ingest.limits.seconds). Large HTML pages are most of the bytes.
The two sides extract HTML with different trafilatura releases (requirements-datatrove.txt pins 1.11.0
for datatrove 0.10.1; Forge's venv has its own). datatrove's filters are FineWeb's, made for web pages:
on technical manuals (code samples, tables) Gopher's alphabetic-word and repetition rules drop most
documents, so its dedup stages see far fewer documents than Forge's, whose default profile keeps them;
compare the documents kept, not only the seconds.

Printed: per round and contender, documents in and kept, the wall seconds, CPU seconds of the whole
process tree (the larger of what the kernel reports for the reaped tree and the sampled CPU of every
process seen in it: benchmarks/dedup_scale.py's TreeSampler), peak RSS, and the load average; each
forge round's phases, the sum of its stages (ingest + clean + dedup) and whole-run wall / that sum
(the goal: <= 1.2); datatrove's seconds per stage and per step with their counts; then the medians and
the ratios forge / dt-dedup and forge / dt-full. The header names the git commit and a hash of
forge_core's sources; the run warns if they changed. Never asserts a time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import tomllib
from functools import partial
from pathlib import Path

try:  # only the datatrove subprocesses (.bench-venv) have it; Forge's venv runs the rest
    from datatrove.pipeline.extractors import Trafilatura
except ImportError:
    Trafilatura = object

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
FORGE_PYTHON = REPO / ".venv" / "bin" / "python"
FORGE_BIN = REPO / ".venv" / "bin" / "forge"
BENCH_PYTHON = REPO / ".bench-venv" / "bin" / "python"
BENCH_HINT = "python3 -m venv .bench-venv && .bench-venv/bin/pip install -r benchmarks/requirements-datatrove.txt"
CONTENDERS = {
    "forge": "forge curate",
    "forge-before": "forge curate (--forge-src)",
    "forge-text": "forge curate (extracted text)",
    "dt-dedup": "datatrove dedup alone",
    "dt-full": "datatrove full chain",
}
DT_WORKERS = 2
DT_TASKS = 8  # files per datatrove stage (one task each): 4 per worker, so one slow file leaves no core idle long
STAGES = ("ingest", "clean", "dedup")
# The order flows/curate.py runs its phases in (stats.json sorts its keys); any other phase follows.
PHASES = (
    "start-up",
    "discovery",
    "cluster start",
    "fingerprint",
    "waiting for another run",
    "ingest",
    "gate ingested",
    "clean",
    "gate cleaned",
    "dedup",
    "gate deduplicated",
    "cluster stop",
    "publish",
)  # Forge's phases that do the work; the rest is overhead
GOAL = 1.2  # whole-run wall / sum of the stages
# Variables that would point Forge at another Prefect, MLflow or Python source than a fresh user's.
NOT_PASSED = ("PYTHONPATH", "PREFECT_API_URL", "PREFECT_HOME", "PREFECT_PROFILE", "MLFLOW_TRACKING_URI")
DT_ENV = {"LOGURU_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1", "TQDM_DISABLE": "1"}


# The documents ----------------------------------------------------------------------------------
def corpus_files(corpus: Path, limit: int | None) -> list[Path]:
    """Every file of the corpus in a fixed order that mixes it: within each package version, files by a hash
    of their path in the package (so the same file of every version comes at the same place); then file i
    of each version, file i + 1 of each, and so on. The first N files hold every version, every format
    in proportion, and the same files in several versions: a small subset has the near duplicates too."""

    def key(path: Path, folder: Path) -> str:
        return hashlib.sha256(path.relative_to(folder).as_posix().encode()).hexdigest()

    folders = sorted(p for p in corpus.iterdir() if p.is_dir())
    per = [sorted((p for p in folder.rglob("*") if p.is_file()), key=partial(key, folder=folder)) for folder in folders]
    order = [files[i] for i in range(max(map(len, per), default=0)) for files in per if i < len(files)]
    return order[:limit] if limit else order


def subset_folder(work: Path, corpus: Path, files: list[Path]) -> Path:
    """The files hard-linked (copied across file systems) into WORK/subset-N, same layout; reused."""
    folder = work / f"subset-{len(files)}"
    done = folder.with_suffix(".done")
    names = hashlib.sha256("\n".join(str(p.relative_to(corpus)) for p in files).encode()).hexdigest()
    if done.exists() and done.read_text().strip() == names:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    for src in files:
        dst = folder / src.relative_to(corpus)
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
    done.write_text(names + "\n")
    return folder


def listed_files(source: Path) -> list[Path]:
    return sorted(p for p in source.rglob("*") if p.is_file())


def read_part(job: tuple[int, list[tuple[int, str]], Path]) -> tuple[int, int, dict]:
    """Forge's reader on each file of one part, written as JSONL; (documents, characters, unreadable by reason)."""
    from forge_core.readers.dispatch import ReadConfig, read_records
    from forge_core.readers.extracted import Unreadable

    k, items, out = job
    cfg, docs, chars, bad = ReadConfig(), 0, 0, {}
    tmp = out / f"part-{k:05d}.jsonl.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        for i, path in items:
            try:
                records = read_records(f"file://{path}", Path(path).read_bytes(), cfg)
            except Unreadable as e:
                bad[e.reason] = bad.get(e.reason, 0) + 1
                continue
            text = "\n\n".join(r.text for r in records if r.text)
            if not text.strip():
                bad["no_text"] = bad.get("no_text", 0) + 1
                continue
            f.write(json.dumps({"id": i, "text": text}) + "\n")
            docs, chars = docs + 1, chars + len(text)
    tmp.rename(tmp.with_suffix(""))
    return docs, chars, bad


def dedup_input(work: Path, files: list[Path]) -> tuple[Path, dict]:
    """The text Forge's readers take out of each file, as DT_TASKS JSONL files for dt-dedup; made once per
    (file list, forge_core/readers sources), on 2 processes, untimed."""
    from concurrent.futures import ProcessPoolExecutor

    digest = hashlib.sha256()
    for p in files:
        digest.update(f"{p}\0{p.stat().st_size}\0".encode())
    for p in sorted((REPO / "forge_core" / "readers").rglob("*.py")):
        digest.update(p.read_bytes())
    root = work / "dt-dedup-input" / digest.hexdigest()[:16]
    marker = root / "input.json"
    if marker.exists():
        return root, json.loads(marker.read_text())
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    numbered = list(enumerate(map(str, files)))
    jobs = [(k, numbered[k::DT_TASKS], root) for k in range(DT_TASKS)]
    t, docs, chars, bad = time.perf_counter(), 0, 0, {}
    print(f"  writing dt-dedup's input once: Forge's readers on {len(files):,} files ...", file=sys.stderr)
    with ProcessPoolExecutor(max_workers=2) as pool:
        for n, c, b in pool.map(read_part, jobs):
            docs, chars = docs + n, chars + c
            for reason, count in b.items():
                bad[reason] = bad.get(reason, 0) + count
    meta = {"files": len(files), "docs": docs, "chars": chars, "unreadable": bad, "seconds": time.perf_counter() - t}
    marker.write_text(json.dumps(meta, indent=1))
    return root, meta


# datatrove (in .bench-venv subprocesses) --------------------------------------------------------
class HtmlOnlyTrafilatura(Trafilatura):
    """datatrove's Trafilatura step on the HTML files only; the other files pass through unchanged (their
    text is the document), as a FineWeb-style pipeline over a mixed folder would route them."""

    name = "⛏ Trafilatura (HTML files)"

    def run(self, data, rank: int = 0, world_size: int = 1):
        waiting = []

        def pages():
            for doc in data:
                if doc.metadata.get("format") == "html":
                    yield doc
                else:
                    waiting.append(doc)

        for page in super().run(pages(), rank, world_size):
            yield from waiting
            waiting.clear()
            yield page
        yield from waiting


def read_raw_files(listing: str, data, rank: int = 0, world_size: int = 1):
    """The rank's share of the listed files (every world_size-th), each one Document of its UTF-8 text."""
    from datatrove.data import Document

    paths = Path(listing).read_text(encoding="utf-8").splitlines()
    for i in range(rank, len(paths), world_size):
        path = paths[i]
        fmt = "html" if path.lower().endswith((".html", ".htm", ".xhtml")) else "text"
        text = Path(path).read_bytes().decode("utf-8", errors="replace")
        yield Document(text=text, id=str(i), metadata={"format": fmt, "path": path})


def step_report(stats) -> list[list]:
    """[step, in, out, {drop reason: count}, seconds summed over tasks] of each datatrove step."""
    rows = []
    for step in stats.stats:
        counts = {name: int(metric.total) for name, metric in step.stats.items()}
        n_in = counts.get("total")  # None: a step that counts no documents (MinHash's buckets, cluster)
        out = counts.get("forwarded", n_in)
        why = {k.removeprefix("dropped_"): v for k, v in counts.items() if k.startswith("dropped_")}
        why |= {k: counts[k] for k in ("timeout", "clean_error", "broken_process") if counts.get(k)}
        if "Trafilatura" in step.name and counts.get("dropped"):
            why["empty_extraction"] = counts["dropped"]
        name = step.name.split(": ", 1)[-1].lstrip(" -")  # "🎯 - DEDUP: 🎯 MinHash stage 1": the last part
        name = name.split(" ", 1)[-1] if not name[:1].isascii() else name  # less its emoji
        rows.append([name, n_in, out, why, round(step.time_stats.total, 2)])
    return rows


def dedup_stages(files: list[str], run: Path, args: argparse.Namespace) -> tuple[dict, list]:
    """datatrove's four MinHash stages on JSONL files ({"id", "text"}): seconds per stage, step rows."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from dedup_scale import datatrove_read, datatrove_write

    cfg = MinhashConfig(n_grams=args.ngram, num_buckets=args.bands, hashes_per_bucket=args.rows)
    sigs, buckets, remove = str(run / "signatures"), str(run / "buckets"), str(run / "remove")
    stages = [
        ("signature", [partial(datatrove_read, files), MinhashDedupSignature(sigs, config=cfg)], len(files)),
        ("buckets", [MinhashDedupBuckets(sigs, buckets, config=cfg)], args.bands),
        ("cluster", [MinhashDedupCluster(buckets, remove, config=cfg)], 1),
        (
            "filter",
            [partial(datatrove_read, files), MinhashDedupFilter(remove), partial(datatrove_write, str(run / "out"))],
            len(files),
        ),
    ]
    seconds, rows = {}, []
    for name, pipeline, tasks in stages:
        t = time.perf_counter()
        executor = LocalPipelineExecutor(
            pipeline, tasks=tasks, workers=min(DT_WORKERS, tasks), logging_dir=str(run / "logs" / name)
        )
        stats = executor.run()
        seconds[name] = round(time.perf_counter() - t, 2)
        rows += [[f"{name}: {r[0]}", *r[1:]] for r in step_report(stats)]
    return seconds, rows


def count_lines(folder: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in folder.glob("*.jsonl"))


def run_dt_dedup(args: argparse.Namespace) -> dict:
    from dedup_scale import versions

    files = sorted(str(p) for p in Path(args.input).glob("part-*.jsonl"))
    docs = sum(Path(f).read_bytes().count(b"\n") for f in files)  # before the clock: the count is ours
    run = Path(args.run)
    start = time.perf_counter()
    seconds, rows = dedup_stages(files, run, args)
    wall = time.perf_counter() - start
    return {
        "seconds": wall,
        "docs": docs,
        "kept": count_lines(run / "out"),
        "stages": seconds,
        "steps": rows,
        "versions": versions("datatrove", "spacy", "xxhash", "numpy"),
    }


def run_dt_full(args: argparse.Namespace) -> dict:
    import trafilatura  # noqa: F401  (a broken install would drop every page as clean_error: stop here instead)
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.pipeline.formatters import PIIFormatter
    from dedup_scale import datatrove_write, versions

    run = Path(args.run)
    docs = len(Path(args.listing).read_text(encoding="utf-8").splitlines())
    pipeline = [
        partial(read_raw_files, args.listing),
        HtmlOnlyTrafilatura(favour_precision=True, timeout=args.extract_timeout),
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(filter_no_terminal_punct=False),
        FineWebQualityFilter(),
        PIIFormatter(),
        partial(datatrove_write, str(run / "filtered")),
    ]
    start = time.perf_counter()
    executor = LocalPipelineExecutor(
        pipeline, tasks=DT_TASKS, workers=DT_WORKERS, logging_dir=str(run / "logs" / "chain")
    )
    rows = step_report(executor.run())
    chain = round(time.perf_counter() - start, 2)
    filtered = [str(run / "filtered" / f"{rank:05d}.jsonl") for rank in range(DT_TASKS)]
    for path in filtered:  # a task whose every document was dropped wrote nothing
        Path(path).touch()
    seconds, dedup_rows = dedup_stages(filtered, run, args)
    wall = time.perf_counter() - start
    return {
        "seconds": wall,
        "docs": docs,
        "filtered": count_lines(run / "filtered"),
        "kept": count_lines(run / "out"),
        "stages": {"extract + filters": chain, **seconds},
        "steps": rows + dedup_rows,
        "versions": versions("datatrove", "trafilatura", "lxml", "spacy", "xxhash", "numpy"),
    }


def child_main(args: argparse.Namespace) -> None:
    result = {"dt-dedup": run_dt_dedup, "dt-full": run_dt_full}[args.child](args)
    print(json.dumps(result, default=str))


# Forge ------------------------------------------------------------------------------------------
def forge_env(src: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in NOT_PASSED}
    return env | {"PYTHONPATH": str(src)} if src else env


def entry_point(src: Path) -> str:
    """The checkout's own `forge` console script (its pyproject.toml), as a -c program."""
    target = tomllib.loads((src / "pyproject.toml").read_text())["project"]["scripts"]["forge"]
    module, func = target.split(":")
    return f"import sys; from {module} import {func}; sys.argv[0] = 'forge'; sys.exit({func}())"


def text_parts(dt_input: Path) -> list[str]:
    """dt-dedup's input files (not the input.json beside them): what forge-text curates."""
    return sorted(str(p) for p in dt_input.glob("part-*.jsonl"))


def forge_command(
    key: str, source: Path, ws: Path, args: argparse.Namespace, dt_input: Path | None = None
) -> list[str]:
    sources = text_parts(dt_input) if key == "forge-text" and dt_input else [str(source)]
    tail = ["curate", *sources, "--workspace", str(ws), "--json"]
    if key in ("forge", "forge-text"):
        return [str(FORGE_BIN), *tail]
    return [str(FORGE_PYTHON), "-c", entry_point(args.forge_src), *tail]


PROBE = """import json
from importlib.metadata import PackageNotFoundError, version
import forge, forge_core, flows
from forge_core.identity import code_version
def v(p):
    try:
        return f"{p} {version(p)}"
    except PackageNotFoundError:
        return None
pkgs = ("polars", "dask", "distributed", "prefect", "great-expectations", "trafilatura", "lxml")
print(json.dumps({"forge_core": forge_core.__file__, "forge": forge.__file__, "flows": flows.__file__,
                  "code_version": code_version(), "versions": ", ".join(filter(None, map(v, pkgs)))}))
"""


def probe_forge(key: str, cwd: Path, args: argparse.Namespace) -> dict:
    """Which sources the contender's interpreter imports, in its environment and folder."""
    env = forge_env(args.forge_src if key == "forge-before" else None)
    proc = subprocess.run([str(FORGE_PYTHON), "-c", PROBE], env=env, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{key}: cannot import forge: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def forge_result(stdout: str, ws: Path) -> dict:
    """The --json line and the dataset's stats.json: counts, phases."""
    result = json.loads(stdout.strip().splitlines()[-1])
    stats_path = Path(result.get("dataset") or ws / "datasets" / result["dataset_id"]) / "stats.json"
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    # The flow's own return holds every phase to its end (stats.json's "publish" stops at stats.json).
    phases = result.get("phases") or stats.get("phases") or {}
    phases = dict(sorted(phases.items(), key=lambda kv: PHASES.index(kv[0]) if kv[0] in PHASES else len(PHASES)))
    counts = stats.get("counts") or result["counts"]
    return {
        "docs": counts["ingested"],
        "kept": counts["kept"],
        "counts": counts,
        "phases": phases,
        "flow_seconds": result.get("seconds"),
        "code_version": result.get("code_version"),
        "stats_json": str(stats_path) if stats_path.exists() else None,
    }


# The runner -------------------------------------------------------------------------------------
def run_contender(key: str, r: int, source: Path, listing: Path, dt_input: Path | None, args) -> dict:
    """One round of one contender in a fresh subprocess: its result, process wall, tree CPU and peak RSS."""
    from dedup_scale import TreeSampler, children_cpu

    scratch = args.work / "runs" / key
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    log = args.work / "logs" / f"round{r}-{key}.log"
    if key.startswith("forge"):
        ws = scratch / "workspace"
        cmd = forge_command(key, source, ws, args, dt_input)
        env = forge_env(args.forge_src if key == "forge-before" else None)
    else:
        if not BENCH_PYTHON.exists():
            sys.exit(f"{BENCH_PYTHON} not found; create it with: {BENCH_HINT}")
        cmd = [str(BENCH_PYTHON), str(Path(__file__).resolve()), "--child", key, "--run", str(scratch)]
        cmd += ["--bands", str(args.bands), "--rows", str(args.rows), "--ngram", str(args.ngram)]
        cmd += ["--extract-timeout", str(args.extract_timeout)]
        cmd += ["--input", str(dt_input)] if key == "dt-dedup" else ["--listing", str(listing)]
        env = {k: v for k, v in os.environ.items() if k not in NOT_PASSED} | DT_ENV | {"PYTHONPATH": str(BENCH)}
    cpu, start = children_cpu(), time.perf_counter()
    with log.open("w") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err, text=True, cwd=scratch)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        out, _ = proc.communicate()
        sampler.stop.set()
        sampler.join()
    wall, cpu = time.perf_counter() - start, max(children_cpu() - cpu, sampler.cpu)
    with log.open("a") as f:
        f.write("\n--- stdout ---\n" + out)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-4000:]
        sys.exit(f"{CONTENDERS[key]} failed (exit {proc.returncode}); log {log}:\n{tail}")
    if key.startswith("forge"):
        result = forge_result(out, ws)
        result["seconds"] = wall  # the whole run, as the user waits for it
    else:
        result = json.loads(out.strip().splitlines()[-1])
    shutil.rmtree(scratch, ignore_errors=True)  # workspace and outputs: several GB on the whole corpus
    return {**result, "process_seconds": wall, "cpu": cpu, "peak_rss": sampler.peak_rss, "log": str(log)}


def load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def print_phases(key: str, r: int, res: dict) -> None:
    phases = res["phases"]
    stages = sum(phases.get(s, 0.0) for s in STAGES)
    listed = ", ".join(f"{name} {s:.1f}" for name, s in phases.items())
    unaccounted = res["process_seconds"] - sum(phases.values())
    tail = f"after the flow returned, to exit {unaccounted:.1f}"
    print(f"  round {r} {key}: {listed}; {tail}")
    if stages:
        print(
            f"  {'':<{len(f'round {r} {key}')}}  stages (ingest + clean + dedup) {stages:.1f} s, whole run "
            f"{res['process_seconds']:.1f} s: wall / stages {res['process_seconds'] / stages:.2f} (goal <= {GOAL})"
        )


def print_steps(key: str, res: dict) -> None:
    print(f"\n{CONTENDERS[key]} ({res['versions']}): {res['docs']:,} documents in, {res['kept']:,} kept")
    if "filtered" in res:
        print(f"  {res['filtered']:,} after extraction and the quality filters, {res['kept']:,} after dedup")
    print("  seconds by stage (wall): " + ", ".join(f"{k} {v:.1f}" for k, v in res["stages"].items()))
    print(f"  {'step':<42} {'seconds':>8} {'in':>7} {'out':>7}  dropped by reason  (seconds summed over tasks)")
    for step, n_in, n_out, why, seconds in res["steps"]:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(why.items(), key=lambda kv: (-kv[1], kv[0])))
        n_in, n_out = (f"{n:,}" if n is not None else "-" for n in (n_in, n_out))
        print(f"  {step:<42} {seconds:>8.2f} {n_in:>7} {n_out:>7}  {reasons}")


def print_forge_counts(key: str, res: dict) -> None:
    c = res["counts"]
    print(
        f"\n{CONTENDERS[key]} ({res['code_version']}): {c['ingested']:,} documents in, {c['kept']:,} kept, "
        f"{c['dropped']:,} dropped, {c['quarantined']:,} quarantined"
    )
    for where, reasons in c.get("by_reason", {}).items():
        listed = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
        print(f"  {where}: {listed}")
    if res.get("stats_json"):
        print(f"  (stats.json of the last round: {res['stats_json']}, removed with its workspace)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--contenders", default="forge,dt-dedup,dt-full", help="from: " + ",".join(CONTENDERS))
    ap.add_argument("--limit-docs", type=int, help="only the first N files of the corpus (interleaved order)")
    ap.add_argument("--work", type=Path, default=Path("/work/bench-e2e"), help="subsets, dt input, scratch, logs")
    ap.add_argument("--corpus", type=Path, help="default: WORK/corpus (benchmarks/package_corpus.py builds it)")
    ap.add_argument("--forge-src", type=Path, help="a second Forge checkout, run as contender forge-before")
    ap.add_argument("--extract-timeout", type=float, default=1.0, help="datatrove's per-page extraction timeout")
    for name in ("--child", "--run", "--input", "--listing"):  # set by the runner for a datatrove subprocess
        ap.add_argument(name, help=argparse.SUPPRESS)
    for name in ("--bands", "--rows", "--ngram"):
        ap.add_argument(name, type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_main(args)
        return

    from dedup_scale import repo_state

    from forge_core.dedup import DedupConfig
    from forge_core.dedup.minhash import bands_and_rows

    keys = [k.strip() for k in args.contenders.split(",") if k.strip()]
    if args.forge_src and "forge-before" not in keys:
        keys.insert(keys.index("forge") + 1 if "forge" in keys else 0, "forge-before")
    if unknown := [k for k in keys if k not in CONTENDERS]:
        sys.exit(f"--contenders: unknown {', '.join(unknown)}; choose from {','.join(CONTENDERS)}")
    if "forge-before" in keys and not args.forge_src:
        sys.exit("forge-before needs --forge-src DIR (a second Forge checkout, e.g. a git worktree)")
    if args.forge_src:
        args.forge_src = args.forge_src.resolve()
        if not (args.forge_src / "forge_core").is_dir() or not (args.forge_src / "pyproject.toml").exists():
            sys.exit(f"--forge-src {args.forge_src}: not a Forge checkout (no forge_core/ or pyproject.toml)")
    args.work = args.work.resolve()
    corpus = (args.corpus or args.work / "corpus").resolve()
    if not corpus.is_dir() or not any(corpus.iterdir()):
        sys.exit(f"no corpus in {corpus}: build it with python3 benchmarks/package_corpus.py --corpus {corpus}")
    (args.work / "logs").mkdir(parents=True, exist_ok=True)
    cfg = DedupConfig()
    args.bands, args.rows = bands_and_rows(cfg.threshold, cfg.num_perm, cfg.recall_weight)
    args.ngram = cfg.shingle_words

    files = corpus_files(corpus, args.limit_docs)
    source = subset_folder(args.work, corpus, files) if args.limit_docs else corpus
    listed = listed_files(source)  # what forge discovers there: the contenders read the same files
    listing = args.work / f"files-{source.name}.txt"
    listing.write_text("".join(f"{p}\n" for p in listed), encoding="utf-8")
    n_html = sum(p.suffix.lower() in (".html", ".htm", ".xhtml") for p in listed)
    size = sum(p.stat().st_size for p in listed)
    needs_text = "dt-dedup" in keys or "forge-text" in keys
    dt_input, dt_meta = dedup_input(args.work, listed) if needs_text else (None, None)

    commit, sources = repo_state()
    print(
        f"forge curate end to end  commit {commit}  forge_core sources {sources}  rounds {args.rounds}  "
        f"cpus {os.cpu_count()}  load avg {load_avg()}"
    )
    print(
        f"corpus {source}: {len(listed):,} files ({n_html:,} HTML), {size / 1e6:,.1f} MB"
        + (f" (the first {args.limit_docs:,} of {corpus})" if args.limit_docs else "")
    )
    print(
        f"datatrove: {DT_WORKERS} workers, {DT_TASKS} tasks per file stage, {args.ngram}-word shingles, "
        f"{args.bands} bands x {args.rows} rows (forge's default DedupConfig: threshold {cfg.threshold}, "
        f"num_perm {cfg.num_perm}); Trafilatura timeout {args.extract_timeout} s"
    )
    if dt_meta:
        bad = ", ".join(f"{k} {v}" for k, v in dt_meta["unreadable"].items()) or "none"
        print(
            f"dt-dedup input (Forge's readers, untimed, cached in {dt_input}): {dt_meta['docs']:,} documents, "
            f"{dt_meta['chars'] / 1e6:,.1f} M characters; left out: {bad}"
        )
    for key in (k for k in keys if k.startswith("forge")):
        seen = probe_forge(key, args.work, args)
        print(f"{key} imports forge_core from {seen['forge_core']} (forge {seen['forge']}, flows {seen['flows']})")
        print(f"  code_version {seen['code_version']}; {seen['versions']}")
        cmd = forge_command(key, source, Path("WS"), args, dt_input)
        if key == "forge-text":  # the parts are listed above, with dt-dedup's input
            cmd = [*cmd[:2], f"{dt_input}/part-*.jsonl", *cmd[2 + len(text_parts(dt_input)) :]]
        print(f"  runs: {'PYTHONPATH=' + str(args.forge_src) + ' ' if key == 'forge-before' else ''}{shlex.join(cmd)}")
        expected = (args.forge_src if key == "forge-before" else REPO) / "forge_core"
        if Path(seen["forge_core"]).parent != expected:
            print(f"  WARNING: {key} should import {expected}, not {Path(seen['forge_core']).parent}")

    print(
        f"\n{'round':>5}  {'contender':<28} {'docs in':>8} {'kept':>8} {'wall s':>8} {'process s':>9} "
        f"{'CPU s':>8} {'peak RSS MiB':>12}  load avg"
    )
    results: dict[str, list[dict]] = {k: [] for k in keys}
    record = args.work / "logs" / f"results-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"  # each round, as it ends
    for r in range(1, args.rounds + 1):
        for key in keys:  # A B A B
            res = run_contender(key, r, source, listing, dt_input, args)
            results[key].append(res)
            with record.open("a") as f:
                f.write(json.dumps({"round": r, "contender": key, "load_avg": os.getloadavg(), **res}) + "\n")
            print(
                f"{r:>5}  {CONTENDERS[key]:<28} {res['docs']:>8,} {res['kept']:>8,} {res['seconds']:>8.1f} "
                f"{res['process_seconds']:>9.1f} {res['cpu']:>8.1f} {res['peak_rss'] / 2**20:>12,.0f}  {load_avg()}",
                flush=True,
            )
    print("  (wall s: forge's whole process, start to exit; datatrove's from reading its input to writing its")
    print("   output, imports done. process s: each subprocess start to exit. CPU s: its whole process tree)")

    forge_keys = [k for k in keys if k.startswith("forge")]
    if forge_keys:
        print(f"\nforge's phases per round, wall seconds (the flow's 'phases'; load avg {load_avg()})")
        for key in forge_keys:
            for r, res in enumerate(results[key], 1):
                print_phases(key, r, res)
    for key in keys:
        if key.startswith("forge"):
            print_forge_counts(key, results[key][-1])
        else:
            print_steps(key, results[key][-1])

    med = {
        k: {f: statistics.median(x[f] for x in v) for f in ("seconds", "process_seconds", "cpu")}
        for k, v in results.items()
    }
    print(f"\nmedians over {args.rounds} rounds (load avg {load_avg()})")
    print(f"  {'contender':<28} {'wall s':>8} {'process s':>9} {'CPU s':>8} {'docs in':>8} {'kept':>8}")
    for key in keys:
        last = results[key][-1]
        m = med[key]
        print(
            f"  {CONTENDERS[key]:<28} {m['seconds']:>8.1f} {m['process_seconds']:>9.1f} {m['cpu']:>8.1f} "
            f"{last['docs']:>8,} {last['kept']:>8,}"
        )
    for key in forge_keys:
        phases = {
            name: statistics.median(res["phases"].get(name, 0.0) for res in results[key])
            for name in dict.fromkeys(n for res in results[key] for n in res["phases"])
        }
        stages = sum(phases.get(s, 0.0) for s in STAGES)
        print(f"\n  {key}: median phases: " + ", ".join(f"{n} {s:.1f}" for n, s in phases.items()))
        if stages:
            ratio = med[key]["seconds"] / stages
            print(
                f"  {key}: stages (ingest + clean + dedup) {stages:.1f} s of {med[key]['seconds']:.1f} s: "
                f"whole-run wall / stages {ratio:.2f}, goal <= {GOAL}: {'met' if ratio <= GOAL else 'not met'}"
            )
        for ref in (k for k in keys if k.startswith("dt-")):
            print(
                f"  ratio {key} / {CONTENDERS[ref]}: wall {med[key]['seconds'] / med[ref]['seconds']:.2f}x, "
                f"process {med[key]['process_seconds'] / med[ref]['process_seconds']:.2f}x, "
                f"CPU {med[key]['cpu'] / med[ref]['cpu']:.2f}x  (above 1: forge slower; load avg {load_avg()})"
            )
    if "forge" in med and "forge-before" in med:
        print(
            f"  ratio forge / forge-before: wall {med['forge']['seconds'] / med['forge-before']['seconds']:.2f}x, "
            f"CPU {med['forge']['cpu'] / med['forge-before']['cpu']:.2f}x"
        )
    print(f"\nlogs: {args.work / 'logs'}; every round's figures: {record}")
    if repo_state()[1] != sources:
        print(f"\nWARNING: forge_core changed during the run (now {repo_state()[1]}): rounds are not comparable")


if __name__ == "__main__":
    main()

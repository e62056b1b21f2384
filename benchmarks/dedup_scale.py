"""Dedup at scale: Forge's whole dedup stage against datatrove's and text-dedup's MinHash, same corpus, same bands.

    .venv/bin/python benchmarks/dedup_scale.py [--docs 100000,1000000] [--rounds 2] [--seed 0]
        [--contenders forge,datatrove,textdedup] [--ref-docs 100000] [--work /tmp/forge-dedup-scale]

needs the benchmark-only venvs (kept out of Forge's own dependencies):

    python3 -m venv .bench-venv && .bench-venv/bin/pip install -r benchmarks/requirements-datatrove.txt
    python3 -m venv .bench-venv-textdedup
    .bench-venv-textdedup/bin/pip install -r benchmarks/requirements-textdedup.txt

The corpus (per --docs, from --seed): documents of 150-400 words drawn from the word frequencies of
../shared/corpora (tinyshakespeare.txt and the python-docs reST sources), so originals share no
5-word shingle beyond chance; 25% of the documents are copies of an earlier original, exact or with
1-30% of their words inserted, deleted or substituted. The text is ASCII words and single spaces,
sentences marked only by a capital letter: with a period, text-dedup (which splits on every single
non-word character) would see an empty word after it and the three tools would shingle differently.
The smaller corpus is the first documents of the larger one. It is generated once per (docs, seed)
under --work, as Forge CLEANED shards and as JSONL ({"id", "text"}) for the references, 10,000
documents per shard, and reused by later runs.

Each contender runs in a fresh subprocess, alternating A B A B over --rounds. The clock covers the
dedup stage from input shards on disk to deduplicated shards on disk; peak memory is the peak of the
summed RSS (and PSS, which splits pages that forked workers share) of the subprocess and all its
descendants, sampled every 0.1 s, over the subprocess's whole life. CPU seconds are the whole
subprocess tree's, start-up included: the larger of what the kernel reports for the reaped tree and
the sum of the last sampled CPU time of every process seen in it.

- forge: forge_core.dedup.deduplicate on the CLEANED shards with the default DedupConfig, on a Dask
  LocalCluster of 2 single-threaded worker processes (forge_core.executor.open_cluster). The cluster
  starts before the clock (a flow opens it once for all its stages); its start-up is printed apart.
- datatrove: its four MinHash stages (signature, buckets, cluster, filter), each a
  LocalPipelineExecutor with 2 workers: one task per input file, then one per band, then one, then
  one per file. MinhashConfig(n_grams, num_buckets = bands, hashes_per_bucket = rows).
- textdedup: text_dedup.minhash's command (load_dataset json, fingerprint, LSH, union-find,
  filter, save_to_disk) with --num_proc 2 --ngram n --b bands --r rows --num_perm bands*rows and
  its faster hash (--hash_func xxh3).

Bands and rows are Forge's at run time (forge_core.dedup.minhash.bands_and_rows of the default
threshold, num_perm and recall_weight); the references get the same bands x rows and shingle size.
Forge checks each candidate pair against the threshold; the references keep every pair that shares
a band. Quality is against exact Jaccard of the 5-word shingle sets of the lowercased \\w+ words of
each text (Forge's definition), over every pair of documents (see Truth), at DedupConfig's threshold:
a predicted pair is any pair inside a predicted cluster (the connected components of each
contender's duplicate edges). Prints the load average beside every figure, the git commit and a hash
of forge_core's sources, and warns if those changed during the run. Never asserts a time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # polars is only in Forge's venv; the references' subprocesses never import it
    import polars as pl

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
SHAKESPEARE = CORPORA / "tinyshakespeare.txt"
RST = CORPORA / "python-docs" / "rst"
PYTHONS = {  # contender: (interpreter, how to make it)
    "forge": (REPO / ".venv" / "bin" / "python", "make install (Forge's own .venv)"),
    "datatrove": (
        REPO / ".bench-venv" / "bin" / "python",
        "python3 -m venv .bench-venv && .bench-venv/bin/pip install -r benchmarks/requirements-datatrove.txt",
    ),
    "textdedup": (
        REPO / ".bench-venv-textdedup" / "bin" / "python",
        "python3 -m venv .bench-venv-textdedup && "
        ".bench-venv-textdedup/bin/pip install -r benchmarks/requirements-textdedup.txt",
    ),
}
LABELS = {"forge": "forge", "datatrove": "datatrove", "textdedup": "text-dedup"}

GENERATOR_VERSION = 1  # part of the corpus cache key: bump it when the generator changes
SHARD_DOCS = 10_000
DOC_WORDS = (150, 400)
SENTENCE_WORDS = (6, 20)
COPY_SHARE = 0.25
RATES = (0.01, 0.02, 0.03, 0.05, 0.10, 0.20, 0.30)
EDITS = [("exact", 0.0), *[(kind, r) for kind in ("insert", "delete", "substitute") for r in RATES]]
# Words spaCy's English tokenizer (datatrove's word splitter) cuts in two ("cannot" -> "can not"):
# left out of the vocabulary so that all three tools see the same words. Found with spaCy 3.8.18.
SPACY_SPLITS = frozenset({"cannot", "cant", "dont", "id", "im", "ima", "wed", "whats", "wont"})
TRUTH_PARTS = 8  # shingle spill partitions (by the top 3 bits of the hash): bounds the truth's memory
SAMPLE_SECONDS = 0.1
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TQDM_DISABLE": "1",
    "LOGURU_LEVEL": "WARNING",
    "DO_NOT_TRACK": "1",
}


# The corpus -------------------------------------------------------------------------------------
def vocabulary() -> tuple[list[str], np.ndarray]:
    """Lowercase words of the two corpora and their cumulative counts (sampling by real frequency)."""
    counts: dict[str, int] = {}
    texts = [SHAKESPEARE.read_text(encoding="utf-8")]
    texts += [p.read_text(encoding="utf-8", errors="replace") for p in sorted(RST.rglob("*.rst"))]
    for text in texts:
        for w in re.findall(r"[A-Za-z]+", text):
            w = w.lower()
            counts[w] = counts.get(w, 0) + 1
    words = sorted(w for w in counts if w not in SPACY_SPLITS)
    return words, np.cumsum([counts[w] for w in words], dtype=np.int64)


def draw_words(rng: np.random.Generator, cum: np.ndarray, n: int) -> np.ndarray:
    return np.searchsorted(cum, rng.integers(0, cum[-1], size=n), side="right")


@dataclass
class Plan:
    """What each document is: an original (edit -1), or a copy of `source` with EDITS[edit] applied.

    Every field comes from its own seeded stream, and a copy's source only from the documents before
    it, so the plan of n documents is the first n entries of the plan of any larger corpus."""

    edit: np.ndarray  # int64, -1 for an original
    source: np.ndarray  # int64, -1 for an original


def make_plan(n: int, seed: int) -> Plan:
    is_copy = np.random.default_rng([seed, 1]).random(n) < COPY_SHARE
    is_copy[0] = False
    edit = np.where(is_copy, np.random.default_rng([seed, 2]).integers(len(EDITS), size=n), -1)
    u = np.random.default_rng([seed, 3]).random(n)
    originals = np.flatnonzero(~is_copy)
    before = np.cumsum(~is_copy)  # originals at or before each position (a copy is not one)
    source = np.where(is_copy, originals[np.minimum((u * before).astype(np.int64), before - 1)], -1)
    return Plan(edit=edit.astype(np.int64), source=source.astype(np.int64))


def original_words(seed: int, pos: int, cum: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng([seed, 10, pos])
    return draw_words(rng, cum, int(rng.integers(DOC_WORDS[0], DOC_WORDS[1] + 1)))


def edit_words(ids: np.ndarray, kind: str, rate: float, rng: np.random.Generator, cum: np.ndarray) -> np.ndarray:
    """Insert, delete or substitute round(rate * words) words at distinct random positions."""
    k = max(1, round(rate * len(ids)))
    at = rng.choice(len(ids), size=k, replace=False)
    if kind == "delete":
        return np.delete(ids, at)
    if kind == "insert":
        return np.insert(ids, at, draw_words(rng, cum, k))
    ids = ids.copy()
    ids[at] = draw_words(rng, cum, k)
    return ids


def render(ids: np.ndarray, words: list[str], rng: np.random.Generator) -> str:
    """Words joined by single spaces; a sentence starts with a capital letter every 6-20 words."""
    tokens = [words[i] for i in ids.tolist()]
    at = 0
    while at < len(tokens):
        tokens[at] = tokens[at].capitalize()
        at += int(rng.integers(SENTENCE_WORDS[0], SENTENCE_WORDS[1] + 1))
    return " ".join(tokens)


def document(i: int, edit: int, source: int, seed: int, words: list[str], cum: np.ndarray) -> str:
    if edit < 0:
        return render(original_words(seed, i, cum), words, np.random.default_rng([seed, 11, i]))
    ids = original_words(seed, source, cum)
    kind, rate = EDITS[edit]
    if kind == "exact":  # the same words and the same capitals: byte-identical
        return render(ids, words, np.random.default_rng([seed, 11, source]))
    rng = np.random.default_rng([seed, 12, i])
    return render(edit_words(ids, kind, rate, rng, cum), words, rng)


def cleaned_frame(lo: int, texts: list[str]) -> pl.DataFrame:
    """Documents lo.. as the clean stage writes them (benchmarks/dedup_quality.py's columns)."""
    import polars as pl

    ids = range(lo, lo + len(texts))
    uris = [f"file:///bench/{i:08d}.txt" for i in ids]
    return pl.DataFrame(
        {
            "doc_id": [f"{i:016x}" for i in ids],
            "source_uri": uris,
            "source_file": uris,
            "row": [None] * len(texts),
            "raw_sha256": ["0" * 64] * len(texts),
            "bytes": [len(t) for t in texts],  # ASCII: characters are bytes
            "format": ["text"] * len(texts),
            "parent_doc_id": [None] * len(texts),
            "text": texts,
            "n_words": [t.count(" ") + 1 for t in texts],
            "language": ["en"] * len(texts),
            "language_score": [1.0] * len(texts),
            "pii": ["{}"] * len(texts),
        },
        schema_overrides={"row": pl.Int64, "parent_doc_id": pl.String},
    )


def write_shard_pair(job: tuple[Path, int, int, int, np.ndarray, np.ndarray]) -> int:
    """Generate documents lo..hi and write them as a CLEANED shard and as a JSONL file. Returns words."""
    from forge_core.io.shards import write_shard
    from forge_core.io.workspace import Workspace
    from forge_core.schema import CLEANED

    root, k, lo, seed, edit, source = job
    words, cum = vocabulary_cached()
    pairs = zip(edit.tolist(), source.tolist(), strict=True)
    texts = [document(lo + j, e, s, seed, words, cum) for j, (e, s) in enumerate(pairs)]
    ws = Workspace(str(root / "forge"))
    write_shard(ws, ws.path("cleaned", f"part-{k:05d}.parquet"), cleaned_frame(lo, texts), CLEANED)
    tmp = root / "jsonl" / f"part-{k:05d}.jsonl.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        for j, text in enumerate(texts):
            f.write(json.dumps({"id": lo + j, "text": text}) + "\n")
    tmp.rename(tmp.with_suffix(""))
    return sum(t.count(" ") + 1 for t in texts)


_VOCAB: tuple[list[str], np.ndarray] | None = None


def vocabulary_cached() -> tuple[list[str], np.ndarray]:
    global _VOCAB
    if _VOCAB is None:
        _VOCAB = vocabulary()
    return _VOCAB


def corpus_dir(work: Path, docs: int, seed: int) -> Path:
    return work / f"corpus-{docs}-seed{seed}-v{GENERATOR_VERSION}"


def ensure_corpus(work: Path, docs: int, seed: int) -> tuple[Path, dict]:
    """The corpus for (docs, seed), generated on 2 processes unless a finished one is cached."""
    from concurrent.futures import ProcessPoolExecutor

    root = corpus_dir(work, docs, seed)
    marker = root / "corpus.json"
    if marker.exists():
        return root, json.loads(marker.read_text())
    if not SHAKESPEARE.exists() or not RST.exists():
        sys.exit(f"needs {SHAKESPEARE} and {RST} (../shared/corpora, see its README)")
    shutil.rmtree(root, ignore_errors=True)
    (root / "jsonl").mkdir(parents=True)
    plan = make_plan(docs, seed)
    np.savez(root / "plan.npz", edit=plan.edit, source=plan.source)
    bounds = list(range(0, docs, SHARD_DOCS)) + [docs]
    jobs = [
        (root, k, lo, seed, plan.edit[lo:hi], plan.source[lo:hi])
        for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))
    ]
    t = time.perf_counter()
    with ProcessPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        total_words = 0
        for done, n_words in enumerate(pool.map(write_shard_pair, jobs), 1):
            total_words += n_words
            print(f"\r  generating {docs:,} documents: shard {done}/{len(jobs)}", end="", file=sys.stderr)
    print(file=sys.stderr)
    edits = {f"{k} {r:.0%}" if r else k: int((plan.edit == i).sum()) for i, (k, r) in enumerate(EDITS)}
    meta = {
        "docs": docs,
        "seed": seed,
        "generator_version": GENERATOR_VERSION,
        "shards": len(jobs),
        "words": total_words,
        "originals": int((plan.edit < 0).sum()),
        "copies": edits,
        "jsonl_bytes": sum(p.stat().st_size for p in (root / "jsonl").glob("*.jsonl")),
        "seconds": round(time.perf_counter() - t, 1),
    }
    marker.write_text(json.dumps(meta, indent=1))
    return root, meta


# Ground truth -----------------------------------------------------------------------------------
def shingle_ids(texts: pl.Series, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(document, shingle) for every distinct n-word shingle of each text: the lowercased \\w+ words,
    as Forge shingles, each shingle named by a 64-bit hash of its words (polars' string hash of each
    word, folded). 64 bits, so that a collision between two of the corpus' shingles is unlikely
    (about 0.002 expected at 1M documents): the Jaccard here is exact in all but name."""
    from forge_core.dedup.shingles import MUL, fmix64  # here: the references' venvs lack forge_core

    tokens = texts.str.to_lowercase().str.extract_all(r"\w+")
    counts = tokens.list.len().to_numpy().astype(np.int64)
    if counts.min(initial=n) < n:
        raise ValueError(f"a document has fewer than {n} words; the generator makes {DOC_WORDS[0]} or more")
    flat = tokens.explode().hash(seed=0).to_numpy()
    per_doc = counts - n + 1
    doc = np.repeat(np.arange(len(counts), dtype=np.int64), per_doc)
    first = np.repeat(np.cumsum(counts) - counts, per_doc)
    at = first + np.arange(len(doc), dtype=np.int64) - np.repeat(np.cumsum(per_doc) - per_doc, per_doc)
    h = np.zeros(len(doc), dtype=np.uint64)
    for k in range(n):
        h = (h ^ flat[at + k]) * MUL
    h = fmix64(h)
    order = np.lexsort((h, doc))
    doc, h = doc[order], h[order]
    keep = np.ones(len(h), dtype=bool)
    keep[1:] = (h[1:] != h[:-1]) | (doc[1:] != doc[:-1])
    return doc[keep], h[keep]


def pairs_in_groups(members: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    """Keys a * n + b (a < b) of every pair of members that share a group; `group` sorted ascending.

    Walks offsets 1, 2, ... within each group, keeping only the positions whose group still has a
    member that far ahead: the work is the number of pairs, however uneven the group sizes."""
    if len(members) < 2:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    sizes = np.diff(np.r_[starts, len(group)])
    ahead = np.repeat(sizes, sizes) - (np.arange(len(group)) - np.repeat(starts, sizes)) - 1
    at = np.flatnonzero(ahead >= 1)
    out, offset = [], 1
    while len(at):
        a, b = members[at], members[at + offset]
        out.append(np.minimum(a, b) * n + np.maximum(a, b))
        offset += 1
        at = at[ahead[at] >= offset]
    return np.concatenate(out)


@dataclass
class Truth:
    """Every pair of documents that shares a shingle: keys a * n + b (a < b), sorted, and their Jaccard."""

    n: int
    keys: np.ndarray
    jaccard: np.ndarray
    sharing: int  # pairs sharing at least one shingle
    seconds: float

    def true_keys(self, threshold: float) -> np.ndarray:
        return self.keys[self.jaccard >= threshold]

    def of(self, keys: np.ndarray) -> np.ndarray:
        """Jaccard of the pairs (0 for a pair that shares no shingle)."""
        if not len(self.keys):
            return np.zeros(len(keys))
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[at] == keys, self.jaccard[at], 0.0)


def ensure_truth(root: Path, meta: dict, n_words: int) -> Truth:
    """Exact Jaccard over all pairs: spill (shingle, document) by hash range, group each range by
    shingle, count shared shingles per pair. Cached in the corpus folder per shingle size."""
    import polars as pl

    path = root / f"truth-{n_words}w.npz"
    if path.exists():
        z = np.load(path)
        return Truth(meta["docs"], z["keys"], z["jaccard"], int(z["sharing"]), float(z["seconds"]))
    t = time.perf_counter()
    n = meta["docs"]
    spill = root / "truth-spill"
    shutil.rmtree(spill, ignore_errors=True)
    spill.mkdir()
    sizes = np.zeros(n, dtype=np.int64)
    handles = [((spill / f"{p}.h").open("wb"), (spill / f"{p}.d").open("wb")) for p in range(TRUTH_PARTS)]
    shift = np.uint64(64 - (TRUTH_PARTS - 1).bit_length())
    for k, file in enumerate(sorted((root / "jsonl").glob("*.jsonl"))):
        frame = pl.read_ndjson(file, schema={"id": pl.Int64, "text": pl.String})
        doc, h = shingle_ids(frame["text"], n_words)
        doc = frame["id"].to_numpy()[doc]
        sizes += np.bincount(doc, minlength=n)
        part = (h >> shift).astype(np.int64)
        for p, (fh, fd) in enumerate(handles):
            mine = part == p
            h[mine].tofile(fh)
            doc[mine].astype(np.uint32).tofile(fd)
        print(f"\r  shingling for the truth: file {k + 1}/{meta['shards']}", end="", file=sys.stderr)
    for fh, fd in handles:
        fh.close()
        fd.close()
    keys, counts = [], []
    for p in range(TRUTH_PARTS):
        h = np.fromfile(spill / f"{p}.h", dtype=np.uint64)
        doc = np.fromfile(spill / f"{p}.d", dtype=np.uint32).astype(np.int64)
        order = np.argsort(h, kind="stable")
        pk, pc = np.unique(pairs_in_groups(doc[order], h[order], n), return_counts=True)
        keys.append(pk)
        counts.append(pc)
        print(f"\r  grouping shingles for the truth: part {p + 1}/{TRUTH_PARTS}   ", end="", file=sys.stderr)
    print(file=sys.stderr)
    shutil.rmtree(spill)
    all_keys, inverse = np.unique(np.concatenate(keys), return_inverse=True)
    shared = np.bincount(inverse, weights=np.concatenate(counts).astype(np.float64))
    a, b = all_keys // n, all_keys % n
    jaccard = shared / (sizes[a] + sizes[b] - shared)
    truth = Truth(n, all_keys, jaccard, len(all_keys), time.perf_counter() - t)
    np.savez(path, keys=truth.keys, jaccard=truth.jaccard, sharing=truth.sharing, seconds=truth.seconds)
    return truth


# Contenders (each in its own subprocess) --------------------------------------------------------
def versions(*packages: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for p in packages:
        try:
            found.append(f"{p} {version(p)}")
        except PackageNotFoundError:
            continue
    return ", ".join(found)


def run_forge(corpus: Path, run: Path, args: argparse.Namespace) -> dict:
    import polars as pl

    from forge_core.dedup import DedupConfig
    from forge_core.dedup.stage import deduplicate
    from forge_core.executor import DaskConfig, open_cluster
    from forge_core.io.workspace import Workspace

    ws = Workspace(str(run / "workspace"))
    sources = sorted(str(p) for p in (corpus / "forge" / "cleaned").glob("part-*.parquet"))
    outputs = [ws.path("deduplicated", Path(s).name) for s in sources]
    t = time.perf_counter()
    with open_cluster(DaskConfig(n_workers=2, threads_per_worker=1)) as client:
        startup = time.perf_counter() - t
        t = time.perf_counter()
        result = deduplicate(ws, client, sources, DedupConfig(), ws.path("work"), outputs)
        seconds = time.perf_counter() - t
    if (result.counts.get("bands"), result.counts.get("rows")) not in ((None, None), (args.bands, args.rows)):
        raise RuntimeError(
            f"forge used {result.counts['bands']} x {result.counts['rows']}, the references get "
            f"{args.bands} x {args.rows}: bands_and_rows no longer says what deduplicate uses"
        )
    ledger = pl.read_parquet(result.ledger_path, columns=["doc_id", "reason", "detail"])
    edges = np.stack(
        [
            ledger["doc_id"].str.to_integer(base=16).to_numpy(),
            ledger["detail"].str.to_integer(base=16).to_numpy(),
        ],
        axis=1,
    )
    kept = sum(pl.scan_parquet(o).select(pl.len()).collect().item() for o in outputs)
    return {
        "seconds": seconds,
        "startup": startup,
        "kept": kept,
        "edges": edges,
        "steps": {k: round(v, 2) for k, v in result.seconds.items()},
        "counts": result.counts,
        "versions": versions("polars", "numpy", "dask", "distributed", "datasketch"),
    }


def datatrove_read(files: list[str], data, rank: int = 0, world_size: int = 1):
    """Documents of the rank's JSONL files, in order. datatrove's JsonlReader needs orjson, which
    requirements-datatrove.txt does not install, so this reader uses the standard json module."""
    from datatrove.data import Document

    for path in files[rank::world_size]:
        with open(path, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                yield Document(text=row["text"], id=str(row["id"]))


def datatrove_write(folder: str, data, rank: int = 0, world_size: int = 1):
    """The kept documents as JSONL, one file per rank (JsonlWriter needs orjson, as above)."""
    os.makedirs(folder, exist_ok=True)
    with open(f"{folder}/{rank:05d}.jsonl", "w", encoding="utf-8") as f:
        for doc in data:
            f.write(json.dumps({"id": int(doc.id), "text": doc.text}) + "\n")
            yield doc


def count_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n")


def run_datatrove(corpus: Path, run: Path, args: argparse.Namespace) -> dict:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.dedup.minhash import MinhashConfig

    files = sorted(str(p) for p in (corpus / "jsonl").glob("part-*.jsonl"))
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
    steps = {}
    start = time.perf_counter()
    for name, pipeline, tasks in stages:
        t = time.perf_counter()
        executor = LocalPipelineExecutor(
            pipeline, tasks=tasks, workers=min(2, tasks), logging_dir=str(run / "logs" / name)
        )
        executor.run()
        steps[name] = round(time.perf_counter() - t, 2)
    seconds = time.perf_counter() - start

    # The duplicate pairs of stage 2, (file, row, file, row): the edges its stage 3 joins into clusters.
    offsets = np.concatenate([[0], np.cumsum([count_lines(Path(f)) for f in files])])
    edges = []
    for path in sorted((run / "buckets").glob("*.dups")):
        raw = np.frombuffer(path.read_bytes(), dtype="<u4").reshape(-1, 4).astype(np.int64)
        edges.append(np.stack([offsets[raw[:, 0]] + raw[:, 1], offsets[raw[:, 2]] + raw[:, 3]], axis=1))
    kept = sum(count_lines(p) for p in (run / "out").glob("*.jsonl"))
    tokenizer = MinhashDedupSignature(sigs, config=cfg).word_tokenizer
    with open(files[0], encoding="utf-8") as f:
        sample = [json.loads(next(f))["text"] for _ in range(200)]
    same = all(tokenizer.word_tokenize(t.lower()) == re.findall(r"\w+", t.lower()) for t in sample)
    return {
        "seconds": seconds,
        "kept": kept,
        "edges": np.concatenate(edges) if edges else np.zeros((0, 2), dtype=np.int64),
        "steps": steps,
        "counts": {"same_words_as_forge": same},
        "versions": versions("datatrove", "spacy", "xxhash", "numpy"),
    }


def run_textdedup(corpus: Path, run: Path, args: argparse.Namespace) -> dict:
    import text_dedup.minhash as tdm

    # Keep a handle on the loaded dataset (its `id` column maps text-dedup's row index back to our
    # ids) and on its timer (its per-phase seconds), without changing what its command does.
    seen: dict = {"timers": []}
    load = tdm.load_hf_dataset

    def load_and_keep(io_args, meta_args):
        seen["ds"], id2id = load(io_args=io_args, meta_args=meta_args)
        return seen["ds"], id2id

    class KeptTimer(tdm.Timer):
        def __init__(self):
            super().__init__()
            seen["timers"].append(self)

    tdm.load_hf_dataset, tdm.Timer = load_and_keep, KeptTimer
    argv = ["--path", "json", "--data_files", str(corpus / "jsonl" / "part-*.jsonl"), "--split", "train"]
    argv += ["--cache_dir", str(run / "cache"), "--output", str(run / "out"), "--column", "text"]
    argv += ["--num_proc", "2", "--ngram", str(args.ngram), "--threshold", str(args.threshold)]
    argv += ["--b", str(args.bands), "--r", str(args.rows), "--num_perm", str(args.bands * args.rows)]
    argv += ["--hash_func", "xxh3"]
    t = time.perf_counter()
    tdm.main.main(argv, standalone_mode=False)
    seconds = time.perf_counter() - t

    table = seen["ds"].data
    ids = np.empty(len(table), dtype=np.int64)
    ids[table.column("__index__").to_numpy()] = table.column("id").to_numpy()
    parent = tdm.uf.parent
    child = np.fromiter(parent.keys(), dtype=np.int64, count=len(parent))
    root = np.fromiter(parent.values(), dtype=np.int64, count=len(parent))
    moved = child != root
    from datasets import load_from_disk

    return {
        "seconds": seconds,
        "kept": len(load_from_disk(str(run / "out"))),
        "edges": np.stack([ids[child[moved]], ids[root[moved]]], axis=1),
        "steps": {k: round(v, 2) for k, v in seen["timers"][0].elapsed_times.items() if k != "Total"},
        "counts": {},
        "versions": versions("text-dedup", "datasets", "pyarrow", "numpy", "xxhash"),
    }


CHILDREN = {"forge": run_forge, "datatrove": run_datatrove, "textdedup": run_textdedup}


def child_main(args: argparse.Namespace) -> None:
    """One contender, one pass: the result as the last line of stdout, the edges in run/edges.npy."""
    run = Path(args.run)
    result = CHILDREN[args.child](Path(args.corpus), run, args)
    np.save(run / "edges.npy", np.asarray(result.pop("edges"), dtype=np.int64).reshape(-1, 2))
    print(json.dumps(result, default=str))


# The runner -------------------------------------------------------------------------------------
class TreeSampler(threading.Thread):
    """Every SAMPLE_SECONDS, over a process and all its descendants: the peak of their summed RSS
    and PSS, and the CPU time each has used so far (the last reading of each, kept after it ends)."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_rss, self.peak_pss, self.stop = pid, 0, 0, threading.Event()
        self.cpu_seen: dict[tuple[int, float], float] = {}  # (pid, start time): user + system seconds

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self.stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            rss = pss = 0
            for p in procs:
                try:
                    with p.oneshot():
                        info, cpu = p.memory_full_info(), p.cpu_times()
                        self.cpu_seen[(p.pid, p.create_time())] = cpu.user + cpu.system
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                rss += info.rss
                pss += getattr(info, "pss", info.rss)
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.stop.wait(SAMPLE_SECONDS)

    @property
    def cpu(self) -> float:
        return sum(self.cpu_seen.values())


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_child(key: str, corpus: Path, run: Path, log: Path, args: argparse.Namespace) -> dict:
    """Run this script as contender `key` in a fresh subprocess; watch its process tree's memory."""
    python, hint = PYTHONS[key]
    if not python.exists():
        sys.exit(f"{python} not found; create it with: {hint}")
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    cmd = [str(python), str(Path(__file__).resolve()), "--child", key, "--corpus", str(corpus), "--run", str(run)]
    cmd += ["--bands", str(args.bands), "--rows", str(args.rows), "--ngram", str(args.ngram)]
    cmd += ["--threshold", str(args.threshold)]
    env = {**os.environ, **OFFLINE, "PYTHONPATH": str(REPO), "HF_HOME": str(run / "hf-home")}
    cpu, start = children_cpu(), time.perf_counter()
    with log.open("w") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err, text=True, cwd=run)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        out, _ = proc.communicate()
        sampler.stop.set()
        sampler.join()
    # Both undercount: the kernel's sum misses processes nobody waited for (datatrove's pool workers
    # under its forkserver), the samples miss the last 0.1 s of each process. Take the larger.
    wall, cpu = time.perf_counter() - start, max(children_cpu() - cpu, sampler.cpu)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-4000:]
        sys.exit(f"{LABELS[key]} failed (exit {proc.returncode}); log {log}:\n{tail}")
    result = json.loads(out.strip().splitlines()[-1])
    result["edges"] = np.load(run / "edges.npy")
    shutil.rmtree(run, ignore_errors=True)  # its outputs: up to a few GB at 1M documents
    return {**result, "process_seconds": wall, "cpu": cpu, "peak_rss": sampler.peak_rss, "peak_pss": sampler.peak_pss}


def cluster_pairs(edges: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """(keys of every pair inside a predicted cluster, the largest cluster's size)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not len(edges):
        return np.zeros(0, dtype=np.int64), 0
    nodes, compact = np.unique(edges, return_inverse=True)
    compact = compact.reshape(-1, 2)
    graph = coo_matrix((np.ones(len(compact)), (compact[:, 0], compact[:, 1])), shape=(len(nodes), len(nodes)))
    _, label = connected_components(graph, directed=False)
    order = np.argsort(label, kind="stable")
    return np.unique(pairs_in_groups(nodes[order], label[order], n)), int(np.bincount(label).max())


@dataclass
class Score:
    pairs: int
    tp: int
    recall: float
    precision: float
    largest: int
    found: np.ndarray  # the predicted pair keys


def score(edges: np.ndarray, truth: Truth, threshold: float) -> Score:
    pred, largest = cluster_pairs(edges, truth.n)
    true = truth.true_keys(threshold)
    tp = int(np.isin(pred, true, assume_unique=True).sum())
    return Score(
        pairs=len(pred),
        tp=tp,
        recall=tp / len(true) if len(true) else 1.0,
        precision=tp / len(pred) if len(pred) else 1.0,
        largest=largest,
        found=pred,
    )


def repo_state() -> tuple[str, str]:
    """(the checked-out commit, read from .git without running git; a hash of forge_core's sources)."""
    commit = "unknown"
    try:
        head = (REPO / ".git" / "HEAD").read_text().strip()
        if head.startswith("ref: "):
            ref = head[5:]
            loose = REPO / ".git" / ref
            if loose.exists():
                commit = loose.read_text().strip()
            else:
                packed = (REPO / ".git" / "packed-refs").read_text().splitlines()
                commit = next(line.split()[0] for line in packed if line.endswith(" " + ref))
        else:
            commit = head
    except (OSError, StopIteration):
        pass
    digest = hashlib.sha256()
    for path in sorted((REPO / "forge_core").rglob("*.py")):
        digest.update(path.read_bytes())
    return commit[:12], digest.hexdigest()[:12]


def load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f}"


def print_planted(root: Path, truth: Truth, threshold: float, scores: dict[str, Score]) -> None:
    """Per edit: the true Jaccard of original and copy, how many are true pairs, and each contender's share found."""
    z = np.load(root / "plan.npz")
    edit, source = z["edit"], z["source"]
    n = truth.n
    names = list(scores)
    head = f"  {'edit':<16} {'pairs':>7} {'J mean':>7} {'J min':>6} {'J max':>6} {'true':>7}"
    head += "".join(f" {LABELS[k] + ' found':>17}" for k in names)
    print(head)
    for i, (kind, rate) in enumerate(EDITS):
        copies = np.flatnonzero(edit == i)
        if not len(copies):
            continue
        keys = np.minimum(copies, source[copies]) * n + np.maximum(copies, source[copies])
        j = truth.of(keys)
        is_true = j >= threshold
        name = f"{kind} {rate:.0%}" if rate else kind
        line = f"  {name:<16} {len(keys):>7,} {j.mean():>7.3f} {j.min():>6.3f} {j.max():>6.3f} {is_true.sum():>7,}"
        for k in names:
            found = np.isin(keys, scores[k].found)
            if is_true.any():
                line += f" {(found & is_true).sum() / is_true.sum():>17.3f}"
            else:  # no true pair to find: how many false ones it joined instead
                line += f" {f'({found.sum()} false)':>17}"
        print(line)
    print("  (found: share of the true pairs in the same predicted cluster; (n false): planted pairs below the")
    print("   threshold that were joined anyway)")


def run_size(docs: int, args: argparse.Namespace, keys: list[str]) -> dict:
    corpus, meta = ensure_corpus(args.work, docs, args.seed)
    truth = ensure_truth(corpus, meta, args.ngram)
    contenders = [k for k in keys if k == "forge" or docs in args.ref_docs]
    skipped = [LABELS[k] for k in keys if k not in contenders]
    true = truth.true_keys(args.threshold)
    print(
        f"\n== {docs:,} documents: {meta['shards']} shards, {meta['words'] / docs:.0f} words per document, "
        f"{meta['jsonl_bytes'] / 2**20:,.0f} MiB of JSONL; {meta['originals']:,} originals, "
        f"{docs - meta['originals']:,} planted copies"
    )
    print(
        f"   truth: {truth.sharing:,} pairs share a {args.ngram}-word shingle, {len(true):,} have Jaccard >= "
        f"{args.threshold} ({truth.seconds:.0f} s, cached in {corpus.name})"
    )
    if skipped:
        print(f"   not run at this size (--ref-docs {','.join(map(str, sorted(args.ref_docs)))}): {', '.join(skipped)}")
    head = (
        f"{'round':>5}  {'contender':<11} {'docs':>9} {'wall s':>7} {'docs/s':>8} {'CPU s':>7} {'proc s':>7} "
        f"{'peak RSS MiB':>12} {'peak PSS MiB':>12} {'kept':>9} {'recall':>6} {'prec':>6}  load avg"
    )
    print(head)
    results: dict[str, list[dict]] = {k: [] for k in contenders}
    scores: dict[str, Score] = {}
    for r in range(args.rounds):
        for key in contenders:  # A B A B
            log = args.work / "logs" / f"{docs}-round{r + 1}-{key}.log"
            res = run_child(key, corpus, args.work / "runs" / key, log, args)
            load = load_avg()  # right after the run, before scoring adds its own load
            s = score(res.pop("edges"), truth, args.threshold)
            scores.setdefault(key, s)
            res.update(recall=s.recall, precision=s.precision, pairs=s.pairs, largest=s.largest)
            results[key].append(res)
            print(
                f"{r + 1:>5}  {LABELS[key]:<11} {docs:>9,} {res['seconds']:>7.1f} {docs / res['seconds']:>8,.0f} "
                f"{res['cpu']:>7.1f} {res['process_seconds']:>7.1f} {mib(res['peak_rss']):>12} "
                f"{mib(res['peak_pss']):>12} {res['kept']:>9,} {s.recall:>6.3f} {s.precision:>6.3f}  {load}",
                flush=True,
            )
    print(f"\n   medians over {args.rounds} rounds (load avg now {load_avg()})")
    med = {
        k: {f: statistics.median(x[f] for x in v) for f in ("seconds", "cpu", "peak_rss", "peak_pss")}
        for k, v in results.items()
    }
    for key, v in results.items():
        last = v[-1]
        steps = ", ".join(f"{s} {sec:.1f}" for s, sec in last["steps"].items())
        extra = f"; cluster start-up {last['startup']:.1f} s" if "startup" in last else ""
        print(
            f"   {LABELS[key]:<11} {docs / med[key]['seconds']:>8,.0f} docs/s, {docs / med[key]['cpu']:>7,.0f} "
            f"docs/CPU-s, peak RSS {mib(med[key]['peak_rss'])} MiB (PSS {mib(med[key]['peak_pss'])}); "
            f"recall {last['recall']:.3f} precision {last['precision']:.3f}, {last['pairs']:,} predicted pairs, "
            f"largest cluster {last['largest']}"
        )
        print(f"   {'':<11} seconds by step: {steps}{extra}; {last['versions']}")
        if last["counts"]:
            print(f"   {'':<11} counts: {json.dumps(last['counts'], default=str)}")
    if "forge" in med:
        for key in (k for k in med if k != "forge"):
            print(
                f"   ratio forge / {LABELS[key]}: docs/s {med[key]['seconds'] / med['forge']['seconds']:.2f}x, "
                f"docs/CPU-s {med[key]['cpu'] / med['forge']['cpu']:.2f}x, "
                f"peak RSS {med['forge']['peak_rss'] / med[key]['peak_rss']:.2f}x, "
                f"peak PSS {med['forge']['peak_pss'] / med[key]['peak_pss']:.2f}x  (load avg {load_avg()})"
            )
        refs = [k for k in med if k != "forge"]
        if refs:
            fastest = min(refs, key=lambda k: med[k]["seconds"])
            speedup = med[fastest]["seconds"] / med["forge"]["seconds"]
            gap = results["forge"][-1]["recall"] - results[fastest][-1]["recall"]
            print(
                f"   goal (>= 2x the faster reference, {LABELS[fastest]}, at equal or better recall): "
                f"{speedup:.2f}x, recall {gap:+.3f}"
            )
    print(f"\n   planted pairs at threshold {args.threshold} (round 1 of each contender)")
    print_planted(corpus, truth, args.threshold, scores)
    return med


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", default="100000,1000000", help="comma-separated corpus sizes")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0, help="seed of the corpus: words, copies, edits")
    ap.add_argument("--contenders", default="forge,datatrove,textdedup", help="from: " + ",".join(CHILDREN))
    ap.add_argument(
        "--ref-docs", default="", help="sizes at which datatrove and text-dedup run (default: every size <= 100,000)"
    )
    ap.add_argument("--work", type=Path, default=Path("/tmp/forge-dedup-scale"), help="corpus cache and scratch")
    # set by the runner for a contender's subprocess
    for name in ("--child", "--corpus", "--run"):
        ap.add_argument(name, help=argparse.SUPPRESS)
    for name, kind in (("--bands", int), ("--rows", int), ("--ngram", int), ("--threshold", float)):
        ap.add_argument(name, type=kind, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_main(args)
        return

    from forge_core.dedup import DedupConfig
    from forge_core.dedup.minhash import bands_and_rows

    keys = [k.strip() for k in args.contenders.split(",") if k.strip()]
    if unknown := [k for k in keys if k not in CHILDREN]:
        sys.exit(f"--contenders: unknown {', '.join(unknown)}; choose from {','.join(CHILDREN)}")
    sizes = [int(x) for x in args.docs.split(",")]
    args.ref_docs = {int(x) for x in args.ref_docs.split(",") if x} or {s for s in sizes if s <= 100_000}
    cfg = DedupConfig()
    args.bands, args.rows = bands_and_rows(cfg.threshold, cfg.num_perm, cfg.recall_weight)
    args.ngram, args.threshold = cfg.shingle_words, cfg.threshold
    args.work = args.work.resolve()
    (args.work / "logs").mkdir(parents=True, exist_ok=True)
    commit, sources = repo_state()
    print(
        f"dedup at scale  commit {commit}  forge_core sources {sources}  seed {args.seed}  rounds {args.rounds}  "
        f"cpus {os.cpu_count()}  load avg {load_avg()}"
    )
    print(
        f"same settings for all: {args.ngram}-word shingles, {args.bands} bands x {args.rows} rows "
        f"(references: num_perm {args.bands * args.rows}; forge: num_perm {cfg.num_perm}), threshold {args.threshold} "
        f"(forge verifies candidates against it; the references keep every pair that shares a band)"
    )
    medians = {docs: run_size(docs, args, keys) for docs in sizes}
    grown = [d for d in sizes if "forge" in medians[d]]
    if len(grown) >= 2:
        small, large = min(grown), max(grown)
        a, b = medians[small]["forge"], medians[large]["forge"]
        print(
            f"\nwhat grows, forge {small:,} -> {large:,} documents ({large / small:.0f}x): peak RSS "
            f"{mib(a['peak_rss'])} -> {mib(b['peak_rss'])} MiB ({b['peak_rss'] / a['peak_rss']:.2f}x), PSS "
            f"{b['peak_pss'] / a['peak_pss']:.2f}x, wall {b['seconds'] / a['seconds']:.2f}x  (load avg {load_avg()})"
        )
    if repo_state()[1] != sources:
        print(f"\nWARNING: forge_core changed during the run (now {repo_state()[1]}): rounds are not comparable")


if __name__ == "__main__":
    main()

"""Dedup quality: precision and recall of Forge's exact + MinHash LSH dedup against exact Jaccard.

    .venv/bin/python benchmarks/dedup_quality.py [--docs 5000] [--seed 0] [--shards 4] [--thresholds 0.7,0.8,0.9]

Builds a near-duplicate test set from real text in ../shared/corpora: passages of about 200-400 words
(two or more whole blank-line-separated paragraphs) from tinyshakespeare.txt and the python-docs reST sources,
some of them copied with known edits: byte-identical, case and whitespace only, word insertions,
deletions and substitutions at 1-30% of the words, sentence and paragraph shuffles. The originals
without copies are the negatives. Everything is drawn from --seed.

Ground truth is the exact Jaccard similarity of the shingles Forge itself uses
(forge_core.dedup.shingles.shingle_hashes, DedupConfig.shingle_words words) over every pair of documents
in the set, computed as a sparse matrix product (scipy), so natural duplicates between corpus
passages count too. A true pair has Jaccard >= threshold.

Forge's side is its dedup stage as the curate flow runs it: the set is written as CLEANED shards to a
temporary Workspace and forge_core.dedup.deduplicate runs on a two-worker Dask LocalCluster, with the
default DedupConfig except the threshold (and --verify). Predicted pairs are every pair inside a predicted cluster: each
dropped document with the survivor its ledger row names, joined transitively (exact, then near).

Prints pair precision, recall and F1 per threshold; where the misses are lost (the pair shared no LSH
band, or it did and the MinHash estimate fell below the threshold) and where the false pairs come from
(an estimate at or above the threshold for a pair truly below it, or only through a chain in a
connected component); and per edit kind and rate: the true Jaccard of original and copy, how many
are true pairs, and how many of those Forge found. Runtime is wall clock on this machine.
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from forge_core.dedup import DedupConfig
from forge_core.dedup.minhash import band_keys, config_bands
from forge_core.dedup.shingles import shingle_hashes
from forge_core.dedup.stage import deduplicate
from forge_core.executor import DaskConfig, open_cluster
from forge_core.io.shards import read_shard, write_shard
from forge_core.io.workspace import Workspace
from forge_core.schema import CLEANED

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
SHAKESPEARE = CORPORA / "tinyshakespeare.txt"
RST = CORPORA / "python-docs" / "rst"

PASSAGE_WORDS = (200, 400)
MAX_PARAGRAPH_WORDS = 300  # a longer paragraph (a big code listing) would make a passage of one paragraph
COPY_SHARE = 0.4  # of --docs; more when the corpus runs out of passages for originals
RATES = (0.01, 0.02, 0.03, 0.05, 0.10, 0.20, 0.30)
# (kind, rate): the first two are exact duplicates once case and whitespace are ignored
EDITS = [
    ("exact", 0.0),
    ("case_space", 0.0),
    *[(kind, r) for kind in ("insert", "delete", "substitute") for r in RATES],
    ("shuffle_sentences", 0.0),
    ("shuffle_paragraphs", 0.0),
]
PARAGRAPH = re.compile(r"\n\s*\n")
SENTENCE = re.compile(r"(?<=[.!?])\s+")
# pairs nobody planted, which the ground truth still finds
UNPLANTED = ("natural: original vs original", "two copies of one original", "copy vs another original")


# The test set -----------------------------------------------------------------------------------
def passages(text: str, rng: random.Random) -> list[str]:
    """Runs of whole paragraphs of 200-400 words (at least two paragraphs each)."""
    out, run, words, target = [], [], 0, rng.randint(*PASSAGE_WORDS)
    for para in PARAGRAPH.split(text):
        n = len(para.split())
        if n == 0:
            continue
        if n > MAX_PARAGRAPH_WORDS:
            run, words = [], 0
            continue
        run.append(para.strip("\n"))
        words += n
        if words >= target:
            if len(run) >= 2 and words <= PASSAGE_WORDS[1] + MAX_PARAGRAPH_WORDS // 2:
                out.append("\n\n".join(run))
            run, words, target = [], 0, rng.randint(*PASSAGE_WORDS)
    return out


def corpus_passages(rng: random.Random) -> list[tuple[str, str]]:
    """(source, passage) for every passage of the two corpora, in a seeded order."""
    found = [("shakespeare", p) for p in passages(SHAKESPEARE.read_text(), rng)]
    for path in sorted(RST.rglob("*.rst")):
        found += [("python-docs", p) for p in passages(path.read_text(errors="replace"), rng)]
    rng.shuffle(found)
    return found


def word_edit(text: str, kind: str, rate: float, vocab: list[str], rng: random.Random) -> str:
    """Insert, delete or substitute round(rate * words) words, keeping the whitespace between them."""
    parts = re.split(r"(\s+)", text)  # words at even positions, the whitespace after each at odd ones
    words = list(range(0, len(parts), 2))
    k = max(1, round(rate * len(words)))
    for i in rng.sample(words, k):
        if kind == "substitute":
            parts[i] = rng.choice(vocab)
        elif kind == "delete":
            parts[i] = ""
        else:
            parts[i] = f"{parts[i]} {rng.choice(vocab)}"
    return "".join(parts)


def shuffled(pieces: list[str], rng: random.Random) -> list[str]:
    order = list(range(len(pieces)))
    while len(order) > 1 and order == sorted(order):  # a shuffle that changes nothing is an exact copy
        rng.shuffle(order)
    return [pieces[i] for i in order]


def make_copy(text: str, kind: str, rate: float, vocab: list[str], rng: random.Random) -> str:
    if kind == "exact":
        return text
    if kind == "case_space":
        return re.sub(r" ", "  ", text.upper())
    if kind == "shuffle_sentences":
        return " ".join(shuffled(SENTENCE.split(text), rng))
    if kind == "shuffle_paragraphs":
        return "\n\n".join(shuffled(PARAGRAPH.split(text), rng))
    return word_edit(text, kind, rate, vocab, rng)


@dataclass
class TestSet:
    texts: list[str]
    sources: list[str]  # shakespeare | python-docs
    original_of: list[int | None]  # for a copy, the index of its original
    edit: list[tuple[str, float] | None]  # for a copy, its (kind, rate)


def build_set(n_docs: int, seed: int) -> TestSet:
    rng = random.Random(seed)
    pool = corpus_passages(rng)
    n_orig = min(len(pool), n_docs - round(COPY_SHARE * n_docs))
    originals = pool[:n_orig]
    vocab = sorted({w for _, p in originals for w in p.split()})
    docs: list[tuple[str, str, int | None, tuple[str, float] | None]] = [(s, p, None, None) for s, p in originals]
    picks: list[int] = []
    for c in range(n_docs - n_orig):
        if c % n_orig == 0:  # each original gets its first copy before any gets a second
            picks += rng.sample(range(n_orig), n_orig)
        kind, rate = EDITS[c % len(EDITS)]
        i = picks[c]
        docs.append((originals[i][0], make_copy(originals[i][1], kind, rate, vocab, rng), i, (kind, rate)))
    order = list(range(len(docs)))
    rng.shuffle(order)  # copies land before or after their originals, in any shard
    position = {old: new for new, old in enumerate(order)}
    docs = [docs[i] for i in order]
    return TestSet(
        texts=[d[1] for d in docs],
        sources=[d[0] for d in docs],
        original_of=[position[d[2]] if d[2] is not None else None for d in docs],
        edit=[d[3] for d in docs],
    )


# Ground truth -----------------------------------------------------------------------------------
class Truth:
    """Exact Jaccard of every pair of documents that shares at least one shingle."""

    def __init__(self, texts: list[str], shingle_words: int):
        indptr, values = shingle_hashes(texts, shingle_words)
        vocab, indices = np.unique(values, return_inverse=True)
        sizes = np.diff(indptr)
        n = len(texts)
        x = csr_matrix((np.ones(len(indices), dtype=np.int32), indices, indptr), shape=(n, len(vocab)))
        inter = coo_matrix(x @ x.T)
        upper = inter.row < inter.col
        a, b, both = inter.row[upper].astype(np.int64), inter.col[upper].astype(np.int64), inter.data[upper]
        self.n = n
        self.keys = a * n + b
        order = np.argsort(self.keys)
        self.keys = self.keys[order]
        self.jaccard = (both / (sizes[a] + sizes[b] - both))[order]

    def key(self, a: int, b: int) -> int:
        return min(a, b) * self.n + max(a, b)

    def of(self, keys: np.ndarray) -> np.ndarray:
        """Jaccard of pairs given as keys (0 where they share no shingle)."""
        if not len(self.keys):
            return np.zeros(len(keys))
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[at] == keys, self.jaccard[at], 0.0)

    def pairs(self, threshold: float) -> set[int]:
        return set(self.keys[self.jaccard >= threshold].tolist())


# Forge's dedup ----------------------------------------------------------------------------------
def cleaned_frame(ts: TestSet, lo: int, hi: int) -> pl.DataFrame:
    """Rows lo..hi as the clean stage writes them (the columns tests/test_dedup.py's frame lists)."""
    texts = ts.texts[lo:hi]
    uris = [f"file:///bench/{i:07d}.txt" for i in range(lo, hi)]
    return pl.DataFrame(
        {
            "doc_id": [f"{i:016x}" for i in range(lo, hi)],
            "source_uri": uris,
            "source_file": uris,
            "row": [None] * len(texts),
            "raw_sha256": ["0" * 64] * len(texts),
            "bytes": [len(t.encode()) for t in texts],
            "format": ["text"] * len(texts),
            "parent_doc_id": [None] * len(texts),
            "text": texts,
            "n_words": [len(t.split()) for t in texts],
            "language": ["en"] * len(texts),
            "language_score": [1.0] * len(texts),
            "pii": ["{}"] * len(texts),
        },
        schema_overrides={"row": pl.Int64, "parent_doc_id": pl.String},
    )


@dataclass
class Run:
    threshold: float
    ledger: pl.DataFrame  # doc_id, reason, detail
    signatures: np.ndarray  # (documents, num_perm), in test-set order
    bands: np.ndarray  # (documents, bands) band keys
    counts: dict
    seconds: dict
    kept: int


def run_forge(ts: TestSet, n_shards: int, cfg: DedupConfig, root: str, client) -> Run:
    ws = Workspace(root)
    bounds = np.linspace(0, len(ts.texts), n_shards + 1).astype(int)
    sources, outputs = [], []
    for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        sources.append(ws.path("cleaned", f"part-{i:05d}.parquet"))
        outputs.append(ws.path("out", f"part-{i:05d}.parquet"))
        write_shard(ws, sources[-1], cleaned_frame(ts, lo, hi), CLEANED)
    result = deduplicate(ws, client, sources, cfg, ws.path("work"), outputs)
    sigs = np.concatenate([np.load(ws.path("work", "sign", f"{i:05d}", "signatures.npy")) for i in range(n_shards)])
    return Run(
        threshold=cfg.threshold,
        ledger=read_shard(ws, result.ledger_path, columns=["doc_id", "reason", "detail"]),
        signatures=sigs,
        bands=band_keys(sigs, *config_bands(cfg)),
        counts=result.counts,
        seconds=result.seconds,
        kept=sum(r.n_kept for r in result.applied),
    )


def predicted_pairs(run: Run, n: int) -> tuple[set[int], set[int]]:
    """(every pair inside a predicted cluster, the dropped-survivor pairs the ledger names)."""
    a = np.array([int(d, 16) for d in run.ledger["doc_id"]], dtype=np.int64)
    b = np.array([int(d, 16) for d in run.ledger["detail"]], dtype=np.int64)
    direct = set((np.minimum(a, b) * n + np.maximum(a, b)).tolist())
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    members: dict[int, list[int]] = {}
    for doc in np.unique(np.concatenate([a, b])).tolist():
        members.setdefault(int(label[doc]), []).append(doc)
    pairs = {x * n + y for group in members.values() for x, y in combinations(sorted(group), 2)}
    return pairs, direct


# Report -----------------------------------------------------------------------------------------
def label_pair(ts: TestSet, a: int, b: int) -> str:
    if ts.original_of[a] == b or ts.original_of[b] == a:
        kind, rate = ts.edit[a] or ts.edit[b]
        return f"{kind} {rate:.0%}" if rate else kind
    if ts.original_of[a] is None and ts.original_of[b] is None:
        return UNPLANTED[0]
    if ts.original_of[a] is not None and ts.original_of[a] == ts.original_of[b]:
        return UNPLANTED[1]
    return UNPLANTED[2]


def prf(tp: int, n_pred: int, n_true: int) -> tuple[float, float, float]:
    p = tp / n_pred if n_pred else 1.0
    r = tp / n_true if n_true else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def evaluate(ts: TestSet, truth: Truth, run: Run) -> dict:
    n, t = truth.n, run.threshold
    true = truth.pairs(t)
    pred, direct = predicted_pairs(run, n)
    tp = true & pred

    def estimate(k: int) -> tuple[bool, float]:
        a, b = k // n, k % n
        return bool(np.any(run.bands[a] == run.bands[b])), float(np.mean(run.signatures[a] == run.signatures[b]))

    missed = {"no shared band": 0, "shared a band, rejected by the check": 0}
    for k in true - pred:
        shared, _ = estimate(k)
        missed["shared a band, rejected by the check" if shared else "no shared band"] += 1
    false = pred - true
    false_j = truth.of(np.array(sorted(false), dtype=np.int64)) if false else np.zeros(0)
    fp = {"direct (dropped for its survivor)": len(false & direct), "via a chain in a cluster": len(false - direct)}
    by_label: dict[str, dict] = {}
    for k in true | pred:
        row = by_label.setdefault(label_pair(ts, k // n, k % n), {"true": 0, "found": 0, "tp": 0})
        row["true"] += k in true
        row["found"] += k in pred
        row["tp"] += k in true and k in pred
    return {
        "threshold": t,
        "true": len(true),
        "pred": len(pred),
        "tp": len(tp),
        "prf": prf(len(tp), len(pred), len(true)),
        "edges": len(direct),
        "edge_precision": len(direct & true) / len(direct) if direct else 1.0,
        "missed": missed,
        "fp": fp,
        "fp_jaccard": (float(false_j.min()), float(false_j.max())) if len(false_j) else None,
        "by_label": by_label,
        "pred_pairs": pred,
    }


def planted_table(ts: TestSet, truth: Truth, results: list[dict]) -> None:
    """Per edit: the true Jaccard of original and copy, and per threshold true pairs / found by Forge."""
    groups: dict[tuple[str, float], list[int]] = {}
    for c, o in enumerate(ts.original_of):
        if o is not None:
            groups.setdefault(ts.edit[c], []).append(truth.key(c, o))
    head = f"{'edit':<20} {'pairs':>5} {'J mean':>7} {'J min':>6} {'J max':>6}"
    head += "".join(f" | t={r['threshold']:.2f} true found  miss" for r in results)
    print(head)
    print("-" * len(head))
    for kind, rate in EDITS:
        keys = np.array(groups.get((kind, rate), []), dtype=np.int64)
        if not len(keys):
            continue
        j = truth.of(keys)
        name = f"{kind} {rate:.0%}" if rate else kind
        line = f"{name:<20} {len(keys):>5} {j.mean():>7.3f} {j.min():>6.3f} {j.max():>6.3f}"
        for r in results:
            is_true = j >= r["threshold"]
            found = np.array([k in r["pred_pairs"] for k in keys.tolist()])
            line += f" |        {is_true.sum():>4} {(found & is_true).sum():>5} {(is_true & ~found).sum():>5}"
        print(line)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=5000, help="documents in the test set (originals + copies)")
    ap.add_argument("--seed", type=int, default=0, help="seed for passages, copies, edits and order")
    ap.add_argument("--shards", type=int, default=4, help="CLEANED shards the set is split into")
    ap.add_argument("--thresholds", default="0.7,0.8,0.9", help="comma-separated; 0.8 is DedupConfig's default")
    ap.add_argument("--verify", default=DedupConfig().verify, choices=["exact", "signature"], help="DedupConfig.verify")
    ap.add_argument(
        "--recall-weight", type=float, default=DedupConfig().recall_weight, help="DedupConfig.recall_weight"
    )
    args = ap.parse_args()
    if not SHAKESPEARE.exists() or not RST.exists():
        raise SystemExit(f"needs {SHAKESPEARE} and {RST} (../shared/corpora, see its README)")
    thresholds = [float(x) for x in args.thresholds.split(",")]
    base = DedupConfig(verify=args.verify, recall_weight=args.recall_weight)

    t0 = time.perf_counter()
    ts = build_set(args.docs, args.seed)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    truth = Truth(ts.texts, base.shingle_words)
    t_truth = time.perf_counter() - t0

    n_copies = sum(o is not None for o in ts.original_of)
    words = [len(t.split()) for t in ts.texts]
    print(f"dedup quality  commit {git_commit()}  seed {args.seed}  shards {args.shards}")
    print(
        f"{len(ts.texts)} documents ({ts.sources.count('shakespeare')} shakespeare, "
        f"{ts.sources.count('python-docs')} python-docs): {len(ts.texts) - n_copies} originals, "
        f"{n_copies} copies over {len(EDITS)} edits; "
        f"words per document median {int(np.median(words))}, min {min(words)}, max {max(words)}"
    )
    print(
        f"DedupConfig: num_perm {base.num_perm}, shingle_words {base.shingle_words}, "
        f"recall_weight {base.recall_weight}, seed {base.seed}, exact {base.exact}, near {base.near}, "
        f"verify {base.verify}, survivor {base.survivor}"
    )
    print(
        f"ground truth: exact Jaccard over all {len(ts.texts) * (len(ts.texts) - 1) // 2:,} pairs "
        f"({len(truth.keys):,} share a shingle) in {t_truth:.1f}s; set built in {t_build:.1f}s"
    )
    print()

    results = []
    with open_cluster(DaskConfig(n_workers=2, threads_per_worker=1)) as client:
        for t in thresholds:
            cfg = base.model_copy(update={"threshold": t})
            with tempfile.TemporaryDirectory(prefix="forge-dedup-quality-") as root:
                run = run_forge(ts, args.shards, cfg, root, client)
            res = evaluate(ts, truth, run)
            res["run"] = run
            results.append(res)

    print(
        f"{'t':>4} {'bands x rows':>12} {'true':>6} {'pred':>6} {'tp':>6} {'prec':>6} {'recall':>6} {'F1':>6} "
        f"{'edge prec':>9} {'dropped':>7} {'kept':>6} {'cand pairs':>10} {'sign s':>6} {'plan s':>6} {'apply s':>7}"
    )
    for r in results:
        run = r["run"]
        b, rows = run.counts.get("bands", 0), run.counts.get("rows", 0)
        p, rec, f1 = r["prf"]
        print(
            f"{r['threshold']:>4.2f} {f'{b} x {rows}':>12} {r['true']:>6} {r['pred']:>6} {r['tp']:>6} "
            f"{p:>6.3f} {rec:>6.3f} {f1:>6.3f} {r['edge_precision']:>9.3f} {run.ledger.height:>7} {run.kept:>6} "
            f"{run.counts.get('candidate_pairs', 0):>10} {run.seconds['sign']:>6.1f} {run.seconds['plan']:>6.1f} "
            f"{run.seconds['apply']:>7.1f}"
        )
    print()
    for r in results:
        run = r["run"]
        drops = ", ".join(f"{k.removeprefix('dropped.')} {v}" for k, v in sorted(run.counts.items()) if "." in k)
        fpj = f" (true J {r['fp_jaccard'][0]:.3f}..{r['fp_jaccard'][1]:.3f})" if r["fp_jaccard"] else ""
        print(
            f"t={r['threshold']:.2f}: dropped {drops}; verified pairs {run.counts.get('verified_pairs', 0)}, "
            f"near clusters {run.counts.get('near_clusters', 0)}, exact groups {run.counts.get('exact_groups', 0)}"
        )
        print(
            f"  missed true pairs: {r['true'] - r['tp']} ("
            + ", ".join(f"{k} {v}" for k, v in r["missed"].items())
            + f"); false pairs: {r['pred'] - r['tp']} ("
            + ", ".join(f"{k} {v}" for k, v in r["fp"].items())
            + f"){fpj}"
        )
        for label in UNPLANTED:
            v = r["by_label"].get(label)
            if v:
                print(f"  {label}: true {v['true']}, found {v['found']}, true and found {v['tp']}")
    print()
    print("planted original-copy pairs (J: exact Jaccard of the shingles; true: J >= t; found: same predicted cluster)")
    planted_table(ts, truth, results)


if __name__ == "__main__":
    main()

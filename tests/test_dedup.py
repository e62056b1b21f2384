"""Dedup on real text (tiny Shakespeare) with planted copies and edits, and its parts one by one."""

from __future__ import annotations

import random

import numpy as np
import polars as pl
import pytest
from conftest import SHARED
from datasketch import MinHash
from documents import doc_frame
from hypothesis import given, settings
from hypothesis import strategies as st

from forge_core.dedup import DedupConfig
from forge_core.dedup.components import components
from forge_core.dedup.lsh import bucket_pairs
from forge_core.dedup.minhash import band_keys, signatures
from forge_core.dedup.shingles import jaccard, shingle_hashes, shingle_set, words
from forge_core.dedup.stage import deduplicate
from forge_core.executor import DaskConfig, open_cluster
from forge_core.io.shards import read_shard, write_shard
from forge_core.io.workspace import Workspace
from forge_core.schema import CLEANED

SHAKESPEARE = SHARED / "corpora" / "tinyshakespeare.txt"
needs_corpus = pytest.mark.skipif(not SHAKESPEARE.exists(), reason="needs ../shared/corpora")


@pytest.fixture(scope="module")
def client():
    with open_cluster(DaskConfig(n_workers=2, processes=False)) as c:
        yield c


def exact_jaccard(a: str, b: str, n: int = 5) -> float:
    x, y = shingle_set(a, n), shingle_set(b, n)
    return len(x & y) / len(x | y)


def passages(count: int, words_each: int = 300) -> list[str]:
    tokens = SHAKESPEARE.read_text().split()
    return [" ".join(tokens[i * words_each : (i + 1) * words_each]) for i in range(count)]


def edit(text: str, rate: float, rng: random.Random) -> str:
    """Substitute a fraction of the words."""
    ws = text.split()
    for i in rng.sample(range(len(ws)), int(len(ws) * rate)):
        ws[i] = "zzz" + ws[i]
    return " ".join(ws)


def frames(texts: list[str], names: list[str], shards: int = 1) -> list[pl.DataFrame]:
    """The documents split into `shards` cleaned shards, doc_id = position in texts."""
    bounds = np.linspace(0, len(texts), shards + 1).astype(int).tolist()
    return [
        doc_frame(texts[lo:hi], [f"file:///c/{n}" for n in names[lo:hi]], stage="cleaned", first_id=lo)
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
    ]


def run(tmp_path, client, shards: list[pl.DataFrame], cfg: DedupConfig):
    ws = Workspace(str(tmp_path))
    sources, outputs = [], []
    for i, s in enumerate(shards):
        sources.append(ws.path("in", f"{i}.parquet"))
        outputs.append(ws.path("out", f"{i}.parquet"))
        write_shard(ws, sources[-1], s, CLEANED)
    result = deduplicate(ws, client, sources, cfg, ws.path("work"), outputs)
    return ws, result


def dropped(tmp_path, client, shards, cfg) -> dict[str, tuple[str, str]]:
    """doc_id -> (reason, survivor doc_id) for every document dedup drops."""
    ws, result = run(tmp_path, client, shards, cfg)
    ledger = read_shard(ws, result.ledger_path)
    return {d: (r, x) for d, r, x in ledger.select("doc_id", "reason", "detail").iter_rows()}


@needs_corpus
def test_planted_copies_are_found_across_shards_and_unrelated_text_is_kept(tmp_path, client):
    rng = random.Random(7)
    originals = passages(60)
    texts, names = list(originals), [f"orig_{i:02d}.txt" for i in range(60)]
    planted: dict[int, tuple[str, int]] = {}
    for k, i in enumerate(range(0, 60, 4)):
        variant = {
            0: originals[i],  # byte-identical
            1: originals[i].upper().replace(" ", "  "),  # case and whitespace only
            2: edit(originals[i], 0.01, rng),  # three words changed
            3: " ".join(originals[i].split()[5:]),  # a sentence cut from the front
        }[k % 4]
        planted[len(texts)] = ("exact_duplicate" if k % 4 < 2 else "near_duplicate", i)
        texts.append(variant)
        names.append(f"zz_copy_{k:02d}.txt")
    for idx, (reason, orig) in planted.items():
        if reason == "near_duplicate":
            assert exact_jaccard(texts[idx], originals[orig]) >= 0.85
    ws, result = run(tmp_path, client, frames(texts, names, shards=3), DedupConfig())
    ledger = read_shard(ws, result.ledger_path)
    got = {d: (r, x) for d, r, x in ledger.select("doc_id", "reason", "detail").iter_rows()}
    assert got == {f"{idx:016x}": (reason, f"{orig:016x}") for idx, (reason, orig) in planted.items()}
    # similarity in the ledger: 1 for exact copies, the exact Jaccard to the survivor for near ones
    for doc, reason, sim in ledger.select("doc_id", "reason", "similarity").iter_rows():
        idx = int(doc, 16)
        expected = 1.0 if reason == "exact_duplicate" else exact_jaccard(texts[idx], originals[planted[idx][1]])
        assert sim == pytest.approx(expected, abs=1e-9)
    kept = pl.concat([read_shard(ws, p) for p in sorted(ws.fs.glob(ws.path("out", "*.parquet")))])
    assert kept.height == len(texts) - len(planted) and "text_hash" in kept.columns
    assert result.counts["dropped.exact_duplicate"] == 8 and result.counts["dropped.near_duplicate"] == 7
    assert result.clusters["near"]["clusters"] == 7 and result.clusters["exact"]["clusters"] == 8


def test_below_threshold_edits_are_kept(tmp_path, client):
    rng = random.Random(3)
    base = passages(1)[0] if SHAKESPEARE.exists() else " ".join(f"w{i}" for i in range(300))
    far = edit(base, 0.3, rng)  # 30% of words changed: Jaccard far below 0.8
    assert exact_jaccard(base, far) < 0.5
    assert dropped(tmp_path, client, frames([base, far], ["a.txt", "b.txt"]), DedupConfig()) == {}


@needs_corpus
@pytest.mark.parametrize(
    ("rule", "survivor"),
    [("earliest", "a.txt"), ("longest", "c.txt"), ("first_seen", "b.txt")],
)
def test_survivor_rules(tmp_path, client, rule, survivor):
    base = passages(1)[0]
    texts = [base, base + " and one more line", base + " and one more line to end"]
    names = ["b.txt", "a.txt", "c.txt"]  # first seen: b; earliest source: a; longest: c
    got = dropped(tmp_path, client, frames(texts, names, shards=2), DedupConfig(survivor=rule))
    keep = f"{names.index(survivor):016x}"
    assert set(got) == {f"{i:016x}" for i in range(3)} - {keep}
    assert {x for _, x in got.values()} == {keep}


def test_exact_survivor_is_earliest_source_whatever_the_input_order(tmp_path, client):
    text = " ".join(f"word{i}" for i in range(100))
    got = dropped(tmp_path, client, frames([text, text, text], ["b.txt", "a.txt", "c.txt"]), DedupConfig())
    assert got == {f"{0:016x}": ("exact_duplicate", f"{1:016x}"), f"{2:016x}": ("exact_duplicate", f"{1:016x}")}


def test_dedup_switches(tmp_path, client):
    text = " ".join(f"word{i}" for i in range(100))
    shards = frames([text, text], ["a.txt", "b.txt"])
    assert dropped(tmp_path / "off", client, shards, DedupConfig(exact=False, near=False)) == {}
    # with exact off, the near pass still catches an identical copy
    assert dropped(tmp_path / "near", client, shards, DedupConfig(exact=False)) == {
        f"{1:016x}": ("near_duplicate", f"{0:016x}")
    }


@needs_corpus
def test_signature_verification_and_a_big_cluster(tmp_path, client):
    """30 light edits of one passage: one cluster of 31, found with signature-only verification too."""
    rng = random.Random(11)
    base = passages(1)[0]
    texts = [base] + [edit(base, 0.01, rng) for _ in range(30)] + passages(5)[1:]
    names = [f"{i:03d}.txt" for i in range(len(texts))]
    for how in ("exact", "signature"):
        ws, result = run(
            tmp_path / how, client, frames(texts, names, shards=3), DedupConfig(verify=how, bucket_pairs=4)
        )
        ledger = read_shard(ws, result.ledger_path)
        assert set(ledger["detail"]) == {f"{0:016x}"} and ledger.height == 30
        largest = result.clusters["largest"][0]
        assert (largest["kind"], largest["size"], largest["kept"]) == ("near", 31, "file:///c/000.txt")
        assert result.clusters["near"]["size_histogram"]["10-99"] == 1


def test_empty_input(tmp_path, client):
    ws, result = run(tmp_path, client, [doc_frame([], [], stage="cleaned")], DedupConfig())
    assert read_shard(ws, result.ledger_path).height == 0
    assert result.clusters["near"]["clusters"] == 0


def test_rerun_reuses_the_plan(tmp_path, client):
    text = " ".join(f"word{i}" for i in range(100))
    shards = frames([text, text], ["a.txt", "b.txt"])
    first = run(tmp_path, client, shards, DedupConfig())[1]
    again = run(tmp_path, client, shards, DedupConfig())[1]
    assert not first.plan.reused and again.plan.reused and again.counts == first.counts


# The parts ----------------------------------------------------------------------------------
TEXTS = [
    "The cat, the HAT and the bat sat on a mat today",
    "",
    "two words",
    "Ünïcödé straße ΣΊΣΥΦΟΣ and more words to go round the block",
    "the cat the hat and the bat sat on a mat today",
]


def test_vectorized_shingles_match_the_reference():
    offsets, values = shingle_hashes(TEXTS, 5)
    for i, text in enumerate(TEXTS):
        got = values[offsets[i] : offsets[i + 1]]
        assert got.tolist() == sorted(shingle_set(text, 5))
    assert words("Ünïcödé straße, ok") == ["ünïcödé", "straße", "ok"]
    # Unicode's \\w, not Python's: a combining mark stays in its word, a superscript two splits one
    assert words("İstanbul x²y") == ["i\u0307stanbul", "x", "y"]
    # case and punctuation do not matter; word order does
    assert shingle_set(TEXTS[0], 5) == shingle_set(TEXTS[4], 5)
    assert shingle_set("a b c", 2) != shingle_set("b a c", 2)
    assert len(shingle_set("two words", 5)) == 1


# Words that repeat (so documents share shingles and the dictionary sees repeats), cases that
# lower to longer strings, non-Latin scripts, digits and underscores, and separators.
WORD_PIECES = st.sampled_from(["the", "The", "cat", "CAT", "İstanbul", "straße", "ΣΊΣΥΦΟΣ", "中文", "x_1", "42", "é"])
SEPARATORS = st.sampled_from([" ", "  ", ", ", "\n", "-", "... "])
DOC = st.lists(st.tuples(WORD_PIECES, SEPARATORS), max_size=14).map(lambda ws: "".join(w + s for w, s in ws))


@settings(max_examples=150, deadline=None)
@given(st.lists(DOC, min_size=1, max_size=8), st.integers(1, 6))
def test_vectorized_shingles_match_the_reference_on_any_documents(texts, n):
    """Empty, shorter than n, exactly n and longer documents side by side: the windows of one never
    run into the next."""
    offsets, values = shingle_hashes(texts, n)
    assert len(offsets) == len(texts) + 1
    for i, text in enumerate(texts):
        assert values[offsets[i] : offsets[i + 1]].tolist() == sorted(shingle_set(text, n))


def test_signatures_are_datasketchs():
    offsets, values = shingle_hashes(TEXTS, 5)
    sigs = signatures(offsets, values, 128, seed=3)
    for i, text in enumerate(TEXTS):
        m = MinHash(num_perm=128, seed=3, hashfunc=lambda h: h)
        m.update_batch(sorted(shingle_set(text, 5)))
        assert np.array_equal(m.hashvalues, sigs[i])


def test_band_keys_agree_exactly_where_the_rows_agree():
    rng = np.random.default_rng(0)
    sigs = rng.integers(0, 2**32, size=(3, 12), dtype=np.uint64).astype(np.uint32)
    sigs[1, :4] = sigs[0, :4]  # band 0 (rows 0-3) shared by documents 0 and 1
    sigs[2] = sigs[0]
    sigs[2, 11] ^= 1  # document 2 differs from 0 only in the last band
    keys = band_keys(sigs, bands=3, rows=4)
    assert keys[0, 0] == keys[1, 0] and keys[0, 1] != keys[1, 1] and keys[0, 2] != keys[1, 2]
    assert list(keys[0] == keys[2]) == [True, True, False]
    assert keys[0, 0] != keys[0, 1]  # the band number is part of the key


def test_bucket_pairs_all_pairs_in_small_buckets_and_a_chain_in_big_ones():
    part = pl.DataFrame(
        {"key": [1, 1, 1, 2, 2, 3] + [9] * 6, "ref": [5, 3, 4, 3, 4, 7] + [10, 11, 12, 13, 14, 15]},
        schema={"key": pl.UInt64, "ref": pl.UInt64},
    )
    pairs = set(bucket_pairs(part, cap=3).iter_rows())
    small = {(3, 4), (3, 5), (4, 5)}
    chain = {(10, 11), (11, 12), (12, 13), (13, 14), (14, 15)}
    star = {(10, 12), (10, 13), (10, 14), (10, 15)}
    assert pairs == small | chain | star


def test_connected_components_chain_and_roots():
    a = np.array([1, 2, 50, 9], dtype=np.uint64)
    b = np.array([2, 3, 60, 1], dtype=np.uint64)
    nodes, root = components(lambda: iter([(a[:2], b[:2]), (a[2:], b[2:])]))
    assert dict(zip(nodes.tolist(), root.tolist(), strict=True)) == {1: 1, 2: 1, 3: 1, 9: 1, 50: 50, 60: 50}
    long = np.arange(10_000, dtype=np.uint64)  # a chain, given backwards: settles by pointer jumping
    nodes, root = components(lambda: iter([(long[:0:-1], long[-2::-1])]))
    assert set(root.tolist()) == {0}


def test_exact_jaccard_of_sorted_sets():
    assert jaccard(np.array([1, 2, 3], np.uint32), np.array([2, 3, 4], np.uint32)) == 0.5


@needs_corpus
@pytest.mark.slow
def test_an_existing_dask_cluster_gives_the_same_ledger(tmp_path, client):
    """`dask scheduler` and `dask worker` processes started apart from Forge, against the LocalCluster."""
    from dask_procs import external_cluster
    from distributed import Client

    rng = random.Random(5)
    originals = passages(40)
    texts = originals + [edit(originals[i], 0.01, rng) for i in range(0, 40, 3)] + originals[:4]
    texts += [edit(originals[0], 0.02, rng) for _ in range(5)]  # a cluster spread over shards
    names = [f"{i:03d}.txt" for i in range(len(texts))]
    shards = frames(texts, names, shards=5)
    local_ws, local = run(tmp_path / "local", client, shards, DedupConfig())
    with external_cluster(workers=2) as address, Client(address) as remote_client:
        remote_ws, remote = run(tmp_path / "remote", remote_client, shards, DedupConfig())
    a, b = read_shard(local_ws, local.ledger_path), read_shard(remote_ws, remote.ledger_path)
    assert a.height >= 4 + 14 and a.equals(b)
    assert local.clusters == remote.clusters

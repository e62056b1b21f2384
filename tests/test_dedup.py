"""Dedup on real text (tiny Shakespeare) with planted copies and edits."""

from __future__ import annotations

import random
import re

import polars as pl
import pytest
from conftest import SHARED
from documents import doc_frame

from forge_core.checkpoint import ShardReport
from forge_core.config import DedupConfig
from forge_core.dedup import plan_dedup, sign_shard
from forge_core.dedup.components import components
from forge_core.dedup.minhash import shingles
from forge_core.io.shards import read_shard, write_shard
from forge_core.io.workspace import Workspace
from forge_core.schema import CLEANED

SHAKESPEARE = SHARED / "corpora" / "tinyshakespeare.txt"


def jaccard(a: str, b: str, n: int = 5) -> float:
    x, y = shingles(a, n), shingles(b, n)
    return len(x & y) / len(x | y)


def passages(count: int, words: int = 300) -> list[str]:
    tokens = SHAKESPEARE.read_text().split()
    return [" ".join(tokens[i * words : (i + 1) * words]) for i in range(count)]


def edit(text: str, rate: float, rng: random.Random) -> str:
    """Substitute a fraction of the words."""
    words = text.split()
    for i in rng.sample(range(len(words)), int(len(words) * rate)):
        words[i] = "zzz" + words[i]
    return " ".join(words)


def frame(texts: list[str], names: list[str]) -> pl.DataFrame:
    return doc_frame(texts, [f"file:///c/{n}" for n in names], stage="cleaned")


def run_dedup(tmp_path, shards: list[pl.DataFrame], cfg: DedupConfig) -> dict[str, tuple[str, str]]:
    """doc_id -> (reason, detail) for every document the plan drops."""
    ws = Workspace(str(tmp_path))
    indexes = []
    for i, s in enumerate(shards):
        path = ws.path("in", f"{i}.parquet")
        write_shard(ws, path, s, CLEANED)
        report = ShardReport("sign", i, ws.path("sign", str(i)))
        sign_shard(ws, path, cfg, report)
        indexes.append(f"{report.folder}/index.parquet")
    plan = ShardReport("dedup", 0, ws.path("plan"))
    plan_dedup(ws, indexes, cfg, plan)
    ledger = read_shard(ws, plan.ledger_path)
    return {d: (r, x) for d, r, x in ledger.select("doc_id", "reason", "detail").iter_rows()}


@pytest.mark.skipif(not SHAKESPEARE.exists(), reason="needs ../shared/corpora")
def test_planted_copies_are_found_across_shards_and_unrelated_text_is_kept(tmp_path):
    rng = random.Random(7)
    originals = passages(40)
    texts, names = list(originals), [f"orig_{i:02d}.txt" for i in range(40)]
    planted: dict[int, tuple[str, int]] = {}
    for k, i in enumerate(range(0, 40, 4)):
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
            assert jaccard(texts[idx], originals[orig]) >= 0.85
    full = frame(texts, names)
    dropped = run_dedup(tmp_path, [full[:25], full[25:]], DedupConfig())
    expected = {f"{idx:016x}": (reason, f"{orig:016x}") for idx, (reason, orig) in planted.items()}
    assert dropped == expected


def test_below_threshold_edits_are_kept(tmp_path):
    rng = random.Random(3)
    base = passages(1)[0] if SHAKESPEARE.exists() else " ".join(f"w{i}" for i in range(300))
    far = edit(base, 0.3, rng)  # 30% of words changed: Jaccard far below 0.8
    assert jaccard(base, far) < 0.5
    assert run_dedup(tmp_path, [frame([base, far], ["a.txt", "b.txt"])], DedupConfig()) == {}


def test_survivor_is_earliest_source_whatever_the_input_order(tmp_path):
    text = " ".join(f"word{i}" for i in range(100))
    shard = frame([text, text, text], ["b.txt", "a.txt", "c.txt"])
    dropped = run_dedup(tmp_path, [shard], DedupConfig())
    survivor = f"{1:016x}"  # a.txt
    assert dropped == {f"{0:016x}": ("exact_duplicate", survivor), f"{2:016x}": ("exact_duplicate", survivor)}


def test_dedup_switches(tmp_path):
    text = " ".join(f"word{i}" for i in range(100))
    shard = frame([text, text], ["a.txt", "b.txt"])
    assert run_dedup(tmp_path / "off", [shard], DedupConfig(exact=False, near=False)) == {}
    # with exact off, the near pass still catches an identical copy
    assert run_dedup(tmp_path / "near", [shard], DedupConfig(exact=False)) == {
        f"{1:016x}": ("near_duplicate", f"{0:016x}")
    }


def test_connected_components_chain():
    groups = components([("a", "b"), ("b", "c"), ("x", "y")])
    assert sorted(sorted(g) for g in groups.values()) == [["a", "b", "c"], ["x", "y"]]


def test_shingles_are_word_ngrams():
    assert shingles("The cat, the HAT", 2) == {b"the cat", b"cat the", b"the hat"}
    assert shingles("two words", 5) == {b"two words"}
    assert re.fullmatch(r"\w+", "x")

"""MinHash signatures and LSH band keys with datasketch.

Bands and rows come from datasketch's own optimizer for the threshold (the same choice its
MinHashLSH would make), so the false-positive/false-negative balance is the library's, not ours.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache

import numpy as np
from datasketch import MinHash, MinHashLSH

from forge_core.config import DedupConfig

WORD = re.compile(r"\w+")


def shingles(text: str, n: int) -> set[bytes]:
    """Word n-grams of the lowercased text; a text shorter than n words is one shingle."""
    tokens = WORD.findall(text.lower())
    if len(tokens) < n:
        return {" ".join(tokens).encode("utf-8")}
    return {" ".join(tokens[i : i + n]).encode("utf-8") for i in range(len(tokens) - n + 1)}


@cache
def bands_and_rows(threshold: float, num_perm: int, recall_weight: float) -> tuple[int, int]:
    """datasketch's choice of (bands, rows). Its default weighs misses and false candidates
    equally, which at 0.8 and 128 permutations (9 x 13) lets 7% of pairs at J = 0.9 slip by;
    every candidate is verified here, so misses are what to avoid (0.9 gives 14 x 9, 0.1%)."""
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=(1 - recall_weight, recall_weight))
    return lsh.b, lsh.r


def signatures(texts: list[str], cfg: DedupConfig) -> np.ndarray:
    """(len(texts), num_perm) uint64 MinHash signatures."""
    if not texts:
        return np.zeros((0, cfg.num_perm), dtype=np.uint64)
    sets = [shingles(t, cfg.shingle_words) for t in texts]
    hashes = MinHash.bulk(sets, num_perm=cfg.num_perm, seed=cfg.seed)
    return np.stack([m.hashvalues.astype(np.uint64) for m in hashes])


def band_keys(sigs: np.ndarray, cfg: DedupConfig) -> np.ndarray:
    """(n, bands) uint64 keys: two documents share a key in band i iff their rows there agree."""
    b, r = bands_and_rows(cfg.threshold, cfg.num_perm, cfg.recall_weight)
    keys = np.empty((sigs.shape[0], b), dtype=np.uint64)
    for i in range(sigs.shape[0]):
        for j in range(b):
            chunk = sigs[i, j * r : (j + 1) * r].tobytes()
            keys[i, j] = int.from_bytes(hashlib.blake2b(chunk, digest_size=8).digest(), "little")
    return keys


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity estimated from two signatures."""
    return float(np.mean(a == b))

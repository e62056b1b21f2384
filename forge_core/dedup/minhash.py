"""MinHash signatures and LSH band keys, vectorized over a shard, identical to datasketch's.

datasketch's MinHash (scheme affine32, its default since 2.0) mixes each 32-bit hash with
MurmurHash3's 32-bit finalizer and applies num_perm affine permutations a*h + b mod 2^32,
keeping the minimum. This module does exactly that over a whole shard's shingles at once, with
the permutations read from datasketch itself, so a signature here equals
`MinHash(num_perm, seed, hashfunc=<the shingle hash>)` fed the same shingles (a test checks).
Bands and rows come from datasketch's own optimizer for the threshold.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from datasketch import MinHash, MinHashLSH

from forge_core.dedup import DedupConfig
from forge_core.dedup.shingles import MUL, fmix64

CHUNK = 1 << 13  # shingles per (num_perm x shingles) block: 4 MiB at 128 permutations


@cache
def bands_and_rows(threshold: float, num_perm: int, recall_weight: float) -> tuple[int, int]:
    """datasketch's choice of (bands, rows) for the threshold, weighing missed pairs by recall_weight.

    Its default weighs misses and false candidates equally: at 0.8 and 128 permutations that is
    9 x 13, which never proposes 31% of the pairs at J = 0.85. Forge's 0.95 gives 16 x 8, which
    misses 5% at J = 0.8 and 0.6% at 0.85. Every candidate is verified, so an extra one costs a
    comparison and a missed one a duplicate left in the data.
    """
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=(1 - recall_weight, recall_weight))
    return lsh.b, lsh.r


@cache
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's (a, b) for this seed: uint32 arrays of num_perm."""
    m = MinHash(num_perm=num_perm, seed=seed)
    if m.scheme != "affine32":
        raise RuntimeError(f"datasketch's default MinHash scheme is {m.scheme!r}; Forge computes 'affine32'")
    a, b = m.permutations
    return a.astype(np.uint32), b.astype(np.uint32)


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, the pre-mix datasketch applies to every hash."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def signatures(offsets: np.ndarray, values: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """(documents, num_perm) uint32 signatures of the shingle sets in CSR form (see shingles.py)."""
    n_docs = len(offsets) - 1
    a, b = permutations(num_perm, seed)
    out = np.empty((n_docs, num_perm), dtype=np.uint32)
    mixed = fmix32(values.astype(np.uint32))
    doc = 0
    while doc < n_docs:
        # as many whole documents as fit in one block (at least one)
        end = int(np.searchsorted(offsets, offsets[doc] + CHUNK, side="right")) - 1
        end = min(max(end, doc + 1), n_docs)
        lo, hi = offsets[doc], offsets[end]
        # permutation-major, so the minimum runs along contiguous rows (several times faster than
        # shingle-major); uint32 arithmetic wraps: mod 2^32, as datasketch's does
        block = a[:, None] * mixed[None, lo:hi]
        block += b[:, None]
        out[doc:end] = np.minimum.reduceat(block, offsets[doc:end] - lo, axis=1).T
        doc = end
    return out


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(documents, bands) uint64 keys: two documents share band i's key iff their rows there agree
    (up to a 64-bit hash collision). The band number is folded in, so keys of different bands differ."""
    n = sigs.shape[0]
    keys = np.empty((n, bands), dtype=np.uint64)
    for j in range(bands):
        h = np.full(n, j + 1, dtype=np.uint64)
        for col in sigs[:, j * rows : (j + 1) * rows].T:
            h = (h ^ col.astype(np.uint64)) * MUL
        keys[:, j] = fmix64(h)
    return keys


def config_bands(cfg: DedupConfig) -> tuple[int, int]:
    return bands_and_rows(cfg.threshold, cfg.num_perm, cfg.recall_weight)

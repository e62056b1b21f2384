"""Word n-gram shingles as 32-bit hashes, a whole shard at a time.

Python's per-shingle loop (split, join, sha1 each n-gram) is where MinHash dedup usually spends
its time. Here the words of a shard are hashed once per distinct word, and each n-gram's hash is
folded from its words' hashes in numpy, so the cost per shingle is a few vector operations.

A shingle is n consecutive words of the lowercased text, words being runs of \\w; a document
shorter than n words is one shingle of all its words (an empty one, one shingle of nothing).
`shingle_hash` is the same function for one n-gram in plain Python: the definition, and what
tests compare the vectorized path against.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import polars as pl
import pyarrow as pa

WORD = r"\w+"
MUL = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime: the fold's multiplier
BASE = np.uint64(0x9E3779B97F4A7C15)  # odd, so invertible mod 2^64
_M64 = (1 << 64) - 1


def word_hash(word: str) -> int:
    """A 64-bit hash of one word: its UTF-8 bytes as a polynomial in BASE mod 2^64, then mixed.

    A polynomial, so that the vectorized path hashes every word of a shard with a few array
    operations over its bytes, with no Python per word.
    """
    h = 0
    for i, byte in enumerate(word.encode("utf-8")):
        h = (h + byte * pow(int(BASE), i, 1 << 64)) & _M64
    return int(fmix64(np.array([h], dtype=np.uint64))[0])


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer, so every output bit depends on every word of the shingle."""
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def shingle_hash(words: list[str]) -> int:
    """The 32-bit hash of one shingle (its words in order), as shingle_hashes computes it."""
    h = 0
    for w in words:
        h = ((h ^ word_hash(w)) * int(MUL)) & _M64
    return int(fmix64(np.array([h], dtype=np.uint64))[0] >> np.uint64(32))


def words(text: str) -> list[str]:
    return re.findall(WORD, text.lower())


def shingle_set(text: str, n: int) -> set[int]:
    """Reference path for one text (slow): the set shingle_hashes gives that text."""
    ws = words(text)
    if len(ws) < n:
        return {shingle_hash(ws)}
    return {shingle_hash(ws[i : i + n]) for i in range(len(ws) - n + 1)}


@cache
def _powers(n: int) -> np.ndarray:
    """BASE^0 .. BASE^(n-1) mod 2^64 (n: the longest word seen, rounded up to a power of two)."""
    out = np.full(n, BASE, dtype=np.uint64)
    out[0] = 1
    return np.cumprod(out, dtype=np.uint64)


def _token_hashes(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(word_hash of every word of every text, in order; words per text)."""
    tokens = texts.str.to_lowercase().str.extract_all(WORD)
    counts = tokens.list.len().fill_null(0).to_numpy().astype(np.int64)
    flat = tokens.explode().drop_nulls().to_arrow().cast(pa.large_string())
    if len(flat) == 0:
        return np.zeros(0, dtype=np.uint64), counts
    _, offs, data = flat.buffers()
    bounds = np.frombuffer(offs, dtype=np.int64, count=len(flat) + 1, offset=flat.offset * 8)
    raw = np.frombuffer(data, dtype=np.uint8)[bounds[0] : bounds[-1]].astype(np.uint64)
    starts, lengths = bounds[:-1] - bounds[0], np.diff(bounds)
    # every byte times BASE to the power of its place in its word, summed per word (wrapping)
    place = np.arange(len(raw), dtype=np.int64) - np.repeat(starts, lengths)
    table = _powers(1 << int(lengths.max() - 1).bit_length())
    return fmix64(np.add.reduceat(raw * table[place], starts, dtype=np.uint64)), counts


def shingle_hashes(texts: pl.Series | list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, values): document i's distinct shingle hashes, sorted, are values[offsets[i]:offsets[i+1]].

    offsets is int64 of length len(texts) + 1; values is uint32. Every document has at least one.
    """
    series = texts if isinstance(texts, pl.Series) else pl.Series(texts, dtype=pl.String)
    tok, counts = _token_hashes(series.fill_null(""))
    n_docs = len(counts)
    ends = np.cumsum(counts)
    starts = ends - counts
    # Shingles per document: len - n + 1, or one for a document shorter than n words.
    per_doc = np.maximum(counts - n + 1, 1)
    doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), per_doc)
    first = np.concatenate([[0], np.cumsum(per_doc)[:-1]]) if n_docs else np.zeros(0, dtype=np.int64)
    pos = np.arange(len(doc_of), dtype=np.int64) - first[doc_of]  # shingle's first word within its doc
    width = np.minimum(counts, n)[doc_of]  # words in this shingle
    at = starts[doc_of] + pos
    h = np.zeros(len(doc_of), dtype=np.uint64)
    padded = np.concatenate([tok, np.zeros(n, dtype=np.uint64)])
    for k in range(n):
        use = k < width
        h = np.where(use, (h ^ padded[at + k]) * MUL, h)
    vals = (fmix64(h) >> np.uint64(32)).astype(np.uint64)
    # Sort each document's values and drop repeats: one sort of (doc, value) keys.
    keys = np.sort((doc_of.astype(np.uint64) << np.uint64(32)) | vals)
    keep = np.ones(len(keys), dtype=bool)
    keep[1:] = keys[1:] != keys[:-1]
    keys = keys[keep]
    doc_sorted = (keys >> np.uint64(32)).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(doc_sorted, minlength=n_docs))]).astype(np.int64)
    return offsets, (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard of two sorted arrays of distinct shingle hashes."""
    both = np.intersect1d(a, b, assume_unique=True).size
    return both / (a.size + b.size - both) if a.size + b.size else 1.0

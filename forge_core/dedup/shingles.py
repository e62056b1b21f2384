"""Word n-gram shingles as 32-bit hashes, a whole shard at a time.

Python's per-shingle loop (split, join, sha1 each n-gram) is where MinHash dedup usually spends
its time. Here the words of a shard are hashed once per distinct word, and each n-gram's hash is
folded from its words' hashes in numpy over contiguous slices, so the cost per shingle is a few
vector operations.

A shingle is n consecutive words of the lowercased text, words being runs of \\w (see words); a document
shorter than n words is one shingle of all its words (an empty one, one shingle of nothing).
`shingle_hash` is the same function for one n-gram in plain Python: the definition, and what
tests compare the vectorized path against.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

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
    """The lowercased words of a text, as the vectorized path splits them.

    \\w as Unicode defines a word character (Rust's regex, which polars runs): letters, combining
    marks, decimal digits and connectors. Python's re differs at the edges (it splits "i̇stanbul",
    the lower case of "İstanbul", at its combining dot, and takes "²" for a digit), so the reference
    asks polars too: what it checks is the hashing and the windows, on the same words.
    """
    return pl.Series([text], dtype=pl.String).str.to_lowercase().str.extract_all(WORD).explode().drop_nulls().to_list()


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


def _poly_hashes(words: pa.Array) -> np.ndarray:
    """word_hash of each string of an Arrow string array: its bytes times powers of BASE, summed."""
    words = words.cast(pa.large_string())
    if len(words) == 0:
        return np.zeros(0, dtype=np.uint64)
    _, offs, data = words.buffers()
    bounds = np.frombuffer(offs, dtype=np.int64, count=len(words) + 1, offset=words.offset * 8)
    raw = np.frombuffer(data, dtype=np.uint8)[bounds[0] : bounds[-1]].astype(np.uint64)
    starts, lengths = bounds[:-1] - bounds[0], np.diff(bounds)
    # every byte times BASE to the power of its place in its word, summed per word (wrapping)
    place = np.arange(len(raw), dtype=np.int64) - np.repeat(starts, lengths)
    table = _powers(1 << int(lengths.max() - 1).bit_length())
    return fmix64(np.add.reduceat(raw * table[place], starts, dtype=np.uint64))


def _token_hashes(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(word_hash of every word of every text, in order; words per text).

    A shard of documentation repeats a few tens of thousands of distinct words millions of times:
    the words are dictionary-encoded (one hash-table pass in Arrow) and only the distinct ones are
    hashed, then gathered back by their codes.
    """
    tokens = texts.str.to_lowercase().str.extract_all(WORD)
    counts = tokens.list.len().fill_null(0).to_numpy().astype(np.int64)
    flat = tokens.explode().drop_nulls().to_arrow()
    if len(flat) == 0:
        return np.zeros(0, dtype=np.uint64), counts
    encoded = pc.dictionary_encode(flat)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    return _poly_hashes(encoded.dictionary)[codes], counts


def _fold(tok: np.ndarray, at: np.ndarray, width: int | np.ndarray, n: int) -> np.ndarray:
    """The 32-bit hash of the shingles starting at tok[at], each `width` words long (at most n)."""
    h = np.zeros(len(at), dtype=np.uint64)
    for k in range(n):
        use = k < width
        if not np.any(use):
            break
        h = np.where(use, (h ^ tok[np.minimum(at + k, len(tok) - 1)]) * MUL, h)
    return fmix64(h) >> np.uint64(32)


def shingle_hashes(texts: pl.Series | list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, values): document i's distinct shingle hashes, sorted, are values[offsets[i]:offsets[i+1]].

    offsets is int64 of length len(texts) + 1; values is uint32. Every document has at least one.
    """
    series = texts if isinstance(texts, pl.Series) else pl.Series(texts, dtype=pl.String)
    tok, counts = _token_hashes(series.fill_null(""))
    n_docs = len(counts)
    doc_ids = np.arange(n_docs, dtype=np.uint64)
    starts = np.cumsum(counts) - counts
    # Documents of n words or more: every window of n consecutive words in the flat token array
    # that lies inside one document, folded over contiguous slices (no gathers).
    windows = len(tok) - n + 1
    if windows > 0:
        h = np.zeros(windows, dtype=np.uint64)
        for k in range(n):
            h = (h ^ tok[k : k + windows]) * MUL
        doc_of_token = np.repeat(doc_ids, counts)
        inside = doc_of_token[:windows] == doc_of_token[n - 1 :]
        long_keys = (doc_of_token[:windows][inside] << np.uint64(32)) | (fmix64(h[inside]) >> np.uint64(32))
    else:
        long_keys = np.zeros(0, dtype=np.uint64)
    # Documents shorter than n words: one shingle of all their words (of none, for an empty one).
    short = np.flatnonzero(counts < n)
    short_keys = (doc_ids[short] << np.uint64(32)) | _fold(tok, starts[short], counts[short], n)
    # Sort each document's values and drop repeats: one sort of (doc, value) keys.
    keys = np.sort(np.concatenate([long_keys, short_keys]))
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

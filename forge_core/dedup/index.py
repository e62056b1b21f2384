"""What dedup keeps of a shard once it has read its text: an index, signatures and shingle sets.

sign_shard reads a cleaned shard once and writes, in the shard's sign folder:

- index.parquet: one row per document, no text: `ref` (the shard's number in the high 32 bits,
  the row in the low 32), provenance and annotations for ledger rows, n_chars and text_hash;
- signatures.npy: (documents, num_perm) uint32 MinHash signatures;
- shingle_offsets.npy / shingle_values.npy: each document's sorted distinct shingle hashes, so a
  candidate pair can be checked by exact Jaccard without reading text again.

Later steps reach a document through its ref, and read these arrays memory-mapped: a check of a
thousand pairs touches a thousand rows, never a whole corpus.
"""

from __future__ import annotations

import io
import os
from functools import lru_cache

import numpy as np
import polars as pl

from forge_core.dedup import DedupConfig
from forge_core.dedup.exact import text_hashes
from forge_core.dedup.minhash import signatures
from forge_core.dedup.shingles import jaccard, shingle_hashes
from forge_core.executor.work import ShardCounts
from forge_core.io.shards import read_shard
from forge_core.io.workspace import Workspace
from forge_core.schema import ANNOTATION_COLUMNS

BATCH = 4096  # documents tokenized at once: bounds the token arrays, whatever the shard size
ROW_BITS = 32
INDEX_COLUMNS = [
    "ref",
    "doc_id",
    "source_uri",
    "source_file",
    "row",
    "raw_sha256",
    "bytes",
    "parent_doc_id",
    *ANNOTATION_COLUMNS,
    "n_chars",
    "text_hash",
]


def shard_of(refs):
    """The shard number of refs (numpy array or polars expression)."""
    if isinstance(refs, pl.Expr):
        return refs // (1 << ROW_BITS)
    return refs >> np.uint64(ROW_BITS)


def row_of(refs: np.ndarray) -> np.ndarray:
    return refs & np.uint64((1 << ROW_BITS) - 1)


def index_path(folder: str) -> str:
    return f"{folder}/index.parquet"


def _save(ws: Workspace, path: str, array: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    ws.write_bytes(path, buf.getvalue())


def sign_shard(ws: Workspace, folder: str, source: str, number: int, cfg: DedupConfig) -> ShardCounts:
    """Index, signatures and shingle sets of one cleaned shard (`number` is its number in refs)."""
    shard = read_shard(ws, source)
    if shard.height >= 1 << ROW_BITS:
        raise ValueError(f"{source}: {shard.height:,} documents; a shard holds at most {1 << ROW_BITS:,}")
    base = np.uint64(number) << np.uint64(ROW_BITS)
    index = shard.select(
        ref=pl.Series(base + np.arange(shard.height, dtype=np.uint64), dtype=pl.UInt64),
        **{c: c for c in INDEX_COLUMNS[1:-2]},
        n_chars=pl.col("text").str.len_chars().cast(pl.Int64),
    ).with_columns(text_hashes(shard["text"]))
    sigs, offsets, values = [], [np.zeros(1, dtype=np.int64)], []
    total = 0
    for lo in range(0, shard.height, BATCH):
        off, val = shingle_hashes(shard["text"].slice(lo, BATCH), cfg.shingle_words)
        sigs.append(signatures(off, val, cfg.num_perm, cfg.seed))
        offsets.append(off[1:] + total)
        values.append(val)
        total += len(val)
    ws.makedirs(folder)
    with ws.fs.open(index_path(folder), "wb") as f:
        index.write_parquet(f, compression="zstd")
    empty_sig = np.zeros((0, cfg.num_perm), dtype=np.uint32)
    _save(ws, f"{folder}/signatures.npy", np.concatenate(sigs) if sigs else empty_sig)
    _save(ws, f"{folder}/shingle_offsets.npy", np.concatenate(offsets))
    _save(ws, f"{folder}/shingle_values.npy", np.concatenate(values) if values else np.zeros(0, np.uint32))
    return ShardCounts(shard.height, shard.height, {"shingles": total})


@lru_cache(maxsize=64)
def _mapped(path: str, size: int, mtime_ns: int) -> np.ndarray:
    return np.load(path, mmap_mode="r")


_REMOTE: dict[str, np.ndarray] = {}


def _array(ws: Workspace, path: str) -> np.ndarray:
    if ws.is_local:
        st = os.stat(path)  # in the key, so a rewritten file is never served from an old mapping
        return _mapped(path, st.st_size, st.st_mtime_ns)
    # Not memory-mappable: one shard's array in memory, a few shards at a time, least recently used
    # out first, so the shard a run of sorted pairs keeps coming back to is not fetched again.
    if path in _REMOTE:
        _REMOTE[path] = _REMOTE.pop(path)
        return _REMOTE[path]
    while len(_REMOTE) >= 8:
        _REMOTE.pop(next(iter(_REMOTE)))
    with ws.fs.open(path, "rb") as f:
        _REMOTE[path] = np.load(io.BytesIO(f.read()))
    return _REMOTE[path]


class Signed:
    """The signed shards of one dataset, by shard number: signatures and shingle sets on demand."""

    def __init__(self, ws: Workspace, folders: dict[int, str]):
        self.ws = ws
        self.folders = folders

    def array(self, shard: int, name: str) -> np.ndarray:
        return _array(self.ws, f"{self.folders[shard]}/{name}.npy")

    def signatures(self, refs: np.ndarray) -> np.ndarray:
        """Signatures of refs (any shards), in the order given."""
        refs = np.asarray(refs, dtype=np.uint64)
        out = None
        for shard in np.unique(shard_of(refs)).tolist():
            sel = shard_of(refs) == shard
            sigs = self.array(shard, "signatures")[row_of(refs[sel]).astype(np.int64)]
            if out is None:
                out = np.empty((len(refs), sigs.shape[1]), dtype=np.uint32)
            out[sel] = sigs
        return out if out is not None else np.zeros((0, 0), dtype=np.uint32)

    def shingles(self, ref: int) -> np.ndarray:
        shard, row = ref >> ROW_BITS, ref & ((1 << ROW_BITS) - 1)  # plain ints: this runs once per pair
        offsets = self.array(shard, "shingle_offsets")
        return self.array(shard, "shingle_values")[offsets[row] : offsets[row + 1]]

    def similarity(self, a: np.ndarray, b: np.ndarray, how: str) -> np.ndarray:
        """Jaccard of each pair (a[i], b[i]): exact over shingle sets, or estimated from signatures."""
        a, b = np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64)
        if not len(a):
            return np.zeros(0)
        if how == "signature":
            return np.mean(self.signatures(a) == self.signatures(b), axis=1)
        pairs = zip(a.tolist(), b.tolist(), strict=True)
        return np.array([jaccard(self.shingles(x), self.shingles(y)) for x, y in pairs])

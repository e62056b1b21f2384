"""The lineage index: a document found by doc_id, content hash or path without reading a ledger.

`forge lineage doc` reads, per dataset version, only what the answer needs. Each dataset version
gets a folder `<workspace>/index/lineage/<dataset_id>/`, written at publish (just before the
manifest) and rebuilt by `forge lineage reindex`:

    documents.parquet   per ledger row: doc_id, source_uri, raw_sha256, status, stage, reason,
                        detail, similarity and its row number in the ledger; sorted by source_uri
                        in row groups of 4,096 rows with min/max statistics on source_uri, so a
                        path is found by reading the footer and one row group.
    doc_id.parquet      (key, position in documents.parquet) sorted by key, 16,384 rows a group:
    raw_sha256.parquet  key = the value's first 15 hex digits as an integer (-1 if not hex), so a
                        lookup reads one row group of integers, then the rows it points to.
    index.json          written last (the folder is unfinished without it): the ledger's size
                        and sha256 it was built from.

One folder per dataset version: publishing adds files and never rewrites another version's, and a
version whose folder was deleted from datasets/ is no longer asked. A lookup returns candidates (a
truncated key can collide, a row group holds neighbours); the caller filters them with the same
expression as a ledger scan, so the answer is the same either way.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from forge_core.io.workspace import Workspace

FORMAT = 1  # bump when the files change shape: an index of another format is rebuilt, not read
ANSWER_COLUMNS = ["doc_id", "source_uri", "raw_sha256", "status", "stage", "reason", "detail", "similarity"]
KEYED = ("doc_id", "raw_sha256")  # looked up through a key file; source_uri through documents.parquet
DOCUMENT_ROWS = 4_096  # a path lookup decodes one group of 4,096 rows of 9 columns (~0.5 MB)
KEY_ROWS = 16_384  # a key lookup decodes 16,384 pairs of integers (192 KB)


def index_root(ws: Workspace) -> str:
    return ws.path("index", "lineage")


def index_dir(ws: Workspace, dataset_id: str) -> str:
    return ws.path("index", "lineage", dataset_id)


def ledger_path(ws: Workspace, dataset_id: str) -> str:
    return f"{ws.dataset_dir(dataset_id)}/ledger.parquet"


def key_of(values: pl.Expr) -> pl.Expr:
    """doc_ids and sha256s are hex by construction (identity.py); anything else shares key -1."""
    return values.str.slice(0, 15).str.to_integer(base=16, strict=False).fill_null(-1)


# Building ---------------------------------------------------------------------------------------
@dataclass
class Indexed:
    """What `index_dataset` or `reindex` did to one dataset version's index."""

    dataset_id: str
    action: str  # indexed | up to date | dropped
    documents: int = 0
    bytes: int = 0
    seconds: float = 0.0


def _parquet(table: pa.Table, row_group_size: int, statistics: list[str], plain: list[str]) -> bytes:
    buf = io.BytesIO()
    pq.write_table(
        table, buf, compression="zstd", row_group_size=row_group_size, write_statistics=statistics,
        use_dictionary=[c for c in table.column_names if c not in plain],
        column_encoding={c: "DELTA_BINARY_PACKED" for c in plain if pa.types.is_integer(table[c].type)} or None,
    )  # fmt: skip
    return buf.getvalue()


def _sha256(ws: Workspace, path: str) -> str:
    h = hashlib.sha256()
    with ws.fs.open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def index_dataset(ws: Workspace, dataset_id: str, ledger: pl.DataFrame | None = None) -> Indexed:
    """(Re)build one dataset version's index from its ledger (read from the workspace unless given)."""
    start = time.perf_counter()
    folder, source = index_dir(ws, dataset_id), ledger_path(ws, dataset_id)
    if ws.exists(f"{folder}/index.json"):
        ws.fs.rm(f"{folder}/index.json")  # unfinished until rebuilt: a query meanwhile scans the ledger
    if ledger is None:
        with ws.fs.open(source, "rb") as f:
            ledger = pl.from_arrow(pq.read_table(f, columns=ANSWER_COLUMNS))
    documents = ledger.select(ANSWER_COLUMNS).with_row_index("row").sort("source_uri", "row")
    files = {"documents.parquet": _parquet(documents.to_arrow(), DOCUMENT_ROWS, ["source_uri"], ["row"])}
    positions = pl.int_range(pl.len(), dtype=pl.UInt32).alias("position")
    for column in KEYED:
        keys = documents.select(key_of(pl.col(column)).alias("key"), positions).sort("key", "position")
        files[f"{column}.parquet"] = _parquet(keys.to_arrow(), KEY_ROWS, ["key"], ["key", "position"])
    for name, data in files.items():
        ws.write_bytes(f"{folder}/{name}", data)
    marker = {
        "format": FORMAT,
        "dataset_id": dataset_id,
        "documents": documents.height,
        "ledger_bytes": ws.fs.size(source),
        "ledger_sha256": _sha256(ws, source),
    }
    ws.write_json(f"{folder}/index.json", marker)
    size = sum(len(d) for d in files.values())
    return Indexed(dataset_id, "indexed", documents.height, size, time.perf_counter() - start)


def _marker(ws: Workspace, dataset_id: str) -> dict[str, Any] | None:
    try:
        marker = ws.read_json(f"{index_dir(ws, dataset_id)}/index.json")
    except FileNotFoundError:
        return None
    return marker if marker.get("format") == FORMAT else None


def reindex(ws: Workspace, dataset_ids: list[str], force: bool = False) -> list[Indexed]:
    """Index every dataset version given whose index is missing or was built from another ledger
    (every one with force), and drop the index of each version whose ledger is gone (deleted, or
    retired by an erasure). Idempotent: a second run finds everything up to date, writes nothing."""
    done = []
    for dataset_id in dataset_ids:
        marker, source = _marker(ws, dataset_id), ledger_path(ws, dataset_id)
        if not force and marker and marker["ledger_sha256"] == _sha256(ws, source):
            done.append(Indexed(dataset_id, "up to date", marker["documents"], _folder_bytes(ws, dataset_id)))
            continue
        done.append(index_dataset(ws, dataset_id))
    root = index_root(ws)
    indexed = [posixpath.basename(p.rstrip("/")) for p in ws.fs.ls(root, detail=False)] if ws.exists(root) else []
    for dataset_id in sorted(set(indexed) - set(dataset_ids)):
        # a version being published has its ledger already (and is not complete yet): it keeps its index
        if not ws.exists(ledger_path(ws, dataset_id)):
            drop_index(ws, dataset_id)
            done.append(Indexed(dataset_id, "dropped"))
    return done


def drop_index(ws: Workspace, dataset_id: str) -> None:
    """Delete a dataset version's index (it holds the version's doc_ids, sha256s and URIs)."""
    if ws.exists(index_dir(ws, dataset_id)):
        ws.fs.rm(index_dir(ws, dataset_id), recursive=True)


def _folder_bytes(ws: Workspace, dataset_id: str) -> int:
    return sum(ws.fs.size(p) for p in ws.fs.ls(index_dir(ws, dataset_id), detail=False))


# Reading ----------------------------------------------------------------------------------------
def open_index(ws: Workspace, dataset_ids: list[str]) -> dict[str, DatasetIndex] | None:
    """Each dataset version's index, or None unless every one has a finished index built from the
    ledger it has now (same size): a partial answer would be a wrong one."""
    out = {}
    for dataset_id in dataset_ids:
        marker = _marker(ws, dataset_id)
        source = ledger_path(ws, dataset_id)
        if marker is None or not ws.exists(source) or marker["ledger_bytes"] != ws.fs.size(source):
            return None
        out[dataset_id] = DatasetIndex(ws, index_dir(ws, dataset_id))
    return out


def _groups(pf: pq.ParquetFile, column: str, low: Any, high: Any) -> list[int]:
    """The row groups whose min/max statistics of column overlap [low, high] (or that have none)."""
    meta = pf.metadata
    i = pf.schema_arrow.get_field_index(column)
    out = []
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(i).statistics
        if stats is None or not stats.has_min_max or (stats.min <= high and stats.max >= low):
            out.append(g)
    return out


class DatasetIndex:
    """One dataset version's index, opened for lookups."""

    def __init__(self, ws: Workspace, folder: str):
        self.ws, self.folder = ws, folder
        self.files: dict[str, pq.ParquetFile] = {}  # footers read once per query, not once per lookup

    def _open(self, name: str) -> pq.ParquetFile:
        if name not in self.files:
            path = f"{self.folder}/{name}"
            self.files[name] = pq.ParquetFile(path if self.ws.is_local else self.ws.fs.open(path, "rb"))
        return self.files[name]

    def candidates(self, column: str, value: str) -> pl.DataFrame:
        """Rows that may have value in column (a superset of the matches, never fewer), in ledger
        order. source_uri: the rows equal to value or starting with value + "#" (records of a
        tabular file) are among them."""
        if column == "source_uri":
            pf = self._open("documents.parquet")
            table = pf.read_row_groups(_groups(pf, "source_uri", value, value + "$"))  # "$" follows "#"
        else:
            table = self._lookup(column, value)
        return pl.from_arrow(table).sort("row") if table.num_rows else pl.from_arrow(table)

    def _lookup(self, column: str, value: str) -> pa.Table:
        key = pl.select(key_of(pl.lit(value))).item()
        keys = self._open(f"{column}.parquet")
        found = keys.read_row_groups(_groups(keys, "key", key, key), columns=["key", "position"])
        positions = np.sort(found.filter(pc.equal(found["key"], key))["position"].to_numpy())
        documents = self._open("documents.parquet")
        meta = documents.metadata
        starts = np.cumsum([0] + [meta.row_group(g).num_rows for g in range(meta.num_row_groups)])
        groups = np.unique(np.searchsorted(starts, positions, side="right") - 1).tolist()
        if not groups:
            return documents.schema_arrow.empty_table()
        table = documents.read_row_groups(groups)
        first = np.concatenate([np.arange(starts[g], starts[g + 1]) for g in groups])
        return table.take(np.searchsorted(first, positions))

"""Deleting an erased document's content from every place a workspace keeps it, and the scan that
proves it gone.

Where content lives besides the dataset versions (rebuild.py retires those): the stage caches
(cache/<stage>/<key>/, whose Parquet files hold the text at each stage: the folders holding an
erased doc_id are deleted, so a rerun redoes them), the MLflow artifacts of the runs that logged
the dataset (its ledger, stats, report, the ledger table, samples of the validation text), the
Prefect artifacts that quote it (reports, samples), and the lineage index. The scan then reads
every file of the workspace (Parquet column by column, everything else as bytes: SQLite keeps
text as written) for each erased document's text (slices of it) and its sha256 and doc_id.
"""

from __future__ import annotations

import posixpath
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from forge_core.io.workspace import Workspace

SLICE = 48  # characters of text per needle: long enough to be this document's, short enough to survive
SKIP = ("erasures/",)  # the request records: keyed hashes only


def needles(ws: Workspace, erased: set[str], raw_sha256: set[str]) -> list[str]:
    """What the scan looks for: the hashes, and slices of every text the workspace holds for the documents."""
    found: set[str] = set(erased) | set(raw_sha256)
    for path in parquet_files(ws):
        try:
            schema = pq.read_schema(path)
        except Exception:  # noqa: BLE001  (not a Parquet file after all: the byte scan covers it)
            continue
        if "doc_id" not in schema.names or "text" not in schema.names:
            continue
        frame = pl.read_parquet(path, columns=["doc_id", "text"]).filter(pl.col("doc_id").is_in(list(erased)))
        for text in frame["text"].to_list():
            found |= slices(text or "")
    return sorted(found)


def slices(text: str) -> set[str]:
    body = " ".join(text.split())
    if len(body) < SLICE:
        return {body} if len(body) >= 16 else set()
    middle = len(body) // 2
    return {body[:SLICE], body[middle : middle + SLICE], body[-SLICE:]}


def parquet_files(ws: Workspace) -> list[str]:
    return sorted(str(p) for p in Path(ws.root).rglob("*.parquet"))


def delete_caches(ws: Workspace, erased: set[str]) -> list[str]:
    """Cache folders (one shard's work at one stage) that hold any erased doc_id."""
    removed = []
    root = Path(ws.path("cache"))
    for stage in sorted(root.iterdir()) if root.exists() else []:
        for folder in sorted(p for p in stage.iterdir() if p.is_dir()):
            if any(holds(f, erased) for f in folder.rglob("*.parquet")):
                ws.fs.rm(str(folder), recursive=True)
                removed.append(posixpath.relpath(str(folder), ws.root))
    return removed


def holds(path: Path, erased: set[str]) -> bool:
    """A document's own row, or a row that names it (a duplicate's survivor, an attachment's e-mail)."""
    try:
        columns = [c for c in ("doc_id", "detail", "parent_doc_id") if c in pq.read_schema(path).names]
        frame = pl.read_parquet(path, columns=columns)
    except Exception:  # noqa: BLE001
        return False
    return any(bool(frame[c].is_in(list(erased)).any()) for c in columns)


def delete_run_artifacts(artifact_dirs: list[Path], needle_list: list[str]) -> list[str]:
    """Files of MLflow runs (ledger, stats, report, ledger table, samples) that hold a needle."""
    removed = []
    for folder in artifact_dirs:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if file_holds(path, needle_list):
                path.unlink()
                removed.append(str(path))
    return removed


def scrub_sqlite(database: Path, needle_list: list[str]) -> int:
    """Every text column of a service's SQLite database (Prefect's artifacts quoting a report or a
    sample, a flow run's parameters naming a doc_id) with each needle replaced; returns the cells."""
    changed = 0
    with closing(sqlite3.connect(database, timeout=60)) as db, db:
        tables = [t for (t,) in db.execute("select name from sqlite_master where type = 'table'")]
        for table in tables:
            columns = [row[1] for row in db.execute(f'pragma table_info("{table}")')]
            for column in columns:
                for needle in needle_list:
                    try:
                        cursor = db.execute(
                            f'update "{table}" set "{column}" = replace("{column}", ?, ?) '
                            f'where typeof("{column}") = \'text\' and instr("{column}", ?) > 0',
                            (needle, "(erased)", needle),
                        )
                    except sqlite3.DatabaseError:
                        continue
                    changed += max(cursor.rowcount, 0)
    return changed


def file_holds(path: Path, needle_list: list[str]) -> bool:
    if path.suffix == ".parquet":
        try:
            frame = pl.read_parquet(path)
        except Exception:  # noqa: BLE001
            frame = None
        if frame is not None:
            strings = [c for c, t in frame.schema.items() if t == pl.String]
            return any(frame[c].str.contains(n, literal=True).any() for c in strings for n in needle_list)
    data = path.read_bytes()
    return any(n.encode("utf-8") in data for n in needle_list)


def scan(ws: Workspace, needle_list: list[str]) -> dict[str, Any]:
    """Every file of the workspace read for the needles; the files where one was found."""
    hits = []
    files = 0
    for path in sorted(p for p in Path(ws.root).rglob("*") if p.is_file()):
        relative = posixpath.relpath(str(path), ws.root)
        if relative.startswith(SKIP):
            continue
        files += 1
        if file_holds(path, needle_list):
            hits.append(relative)
    return {"files_scanned": files, "needles": len(needle_list), "found_in": hits}

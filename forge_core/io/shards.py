"""Shards: bounded Parquet (zstd) files, each checked against its stage's schema on write."""

from __future__ import annotations

import io

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from forge_core.io.workspace import Workspace


def write_shard(ws: Workspace, path: str, frame: pl.DataFrame, schema: pa.Schema) -> int:
    """Write one shard atomically; returns its row count. A missing column fails here, loudly."""
    missing = [name for name in schema.names if name not in frame.columns]
    if missing:
        raise ValueError(f"{path}: shard lacks columns {missing} required by its schema")
    table = frame.select(schema.names).to_arrow().cast(schema)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    ws.write_bytes(path, buf.getvalue())
    return table.num_rows


def read_shard(ws: Workspace, path: str, columns: list[str] | None = None) -> pl.DataFrame:
    with ws.fs.open(path, "rb") as f:
        return pl.from_arrow(pq.read_table(f, columns=columns))


def read_shards(ws: Workspace, paths: list[str], columns: list[str] | None = None) -> pl.DataFrame:
    frames = [read_shard(ws, p, columns) for p in paths]
    return pl.concat(frames, how="vertical") if frames else pl.DataFrame()

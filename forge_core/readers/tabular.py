"""Tabular formats (.jsonl, .csv, .parquet): one record per row, its text from the first of the
configured text columns present. A single bad row is quarantined on its own while the rest of the
file goes on."""

from __future__ import annotations

import io
import json

import polars as pl

from forge_core.readers.extracted import Record, Unreadable
from forge_core.readers.text import decode_text


def pick_text_column(columns: list[str], text_columns: list[str]) -> str:
    for name in text_columns:
        if name in columns:
            return name
    raise Unreadable(
        "missing_text_column",
        f"none of {text_columns} among the columns {columns} (set ingest.text_columns)",
    )


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def read_jsonl(data: bytes, text_columns: list[str]) -> list[Record]:
    """One JSON object per line; a bad line is quarantined alone, with its line number."""
    text = decode_text(data)
    records: list[Record] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue  # blank lines separate records; they are not records
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            records.append(Record(None, number, "invalid_json_line", f"line {number}: {e.msg} at column {e.colno}"))
            continue
        if not isinstance(obj, dict):
            records.append(
                Record(
                    None, number, "invalid_json_line", f"line {number}: expected an object, got {type(obj).__name__}"
                )
            )
            continue
        field = next((name for name in text_columns if name in obj), None)
        if field is None:
            detail = f"line {number}: none of {text_columns} in keys {sorted(obj)} (set ingest.text_columns)"
            records.append(Record(None, number, "missing_text_field", detail))
            continue
        records.append(Record(_cell_text(obj[field]), number))
    return records


def _frame_records(frame: pl.DataFrame, text_columns: list[str]) -> list[Record]:
    column = pick_text_column(frame.columns, text_columns)
    return [Record(_cell_text(v), i) for i, v in enumerate(frame[column].to_list(), start=1)]


def read_csv(data: bytes, text_columns: list[str]) -> list[Record]:
    """Rows of a CSV file; one saved in a legacy encoding (Excel's default on Windows) is decoded first."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        data = decode_text(data).encode("utf-8")
    try:
        frame = pl.read_csv(io.BytesIO(data), infer_schema=False, encoding="utf8")
    except Exception as e:
        raise Unreadable("unreadable_csv", f"{type(e).__name__}: {e}") from None
    return _frame_records(frame, text_columns)


def read_parquet(data: bytes, text_columns: list[str]) -> list[Record]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as e:
        raise Unreadable("unreadable_parquet", f"{type(e).__name__}: {e}") from None
    column = pick_text_column(table.column_names, text_columns)
    return [Record(_cell_text(v), i) for i, v in enumerate(table.column(column).to_pylist(), start=1)]

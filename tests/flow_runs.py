"""Running the curate flow in tests, and reading what it wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl


def run_curate(sources: list[Path | str], workspace: Path, processes: bool = False, **sections: Any) -> dict:
    from flows.curate import curate

    config = {"workspace": str(workspace), "dask": {"n_workers": 2, "processes": processes}, **sections}
    return curate(sources=[str(s) for s in sources], config=config)


def ledger(result: dict) -> pl.DataFrame:
    return pl.read_parquet(result["ledger"])


def kept_text(result: dict) -> pl.DataFrame:
    return pl.read_parquet(Path(result["dataset"]) / "shards" / "*.parquet")


def uri(path: Path, row: int | None = None) -> str:
    base = "file://" + str(path.resolve())
    return base if row is None else f"{base}#row={row}"

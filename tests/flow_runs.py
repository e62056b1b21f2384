"""Running the curate flow in tests, and reading what it wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from forge_core.clean.pipeline import RULES

# The web-text quality rules (Gopher, C4, FineWeb) with their recipes' defaults drop short or
# unpunctuated test documents; tests of the pipeline's mechanics run without them.
WEB_RULES_OFF = {rule.name: {"enabled": False} for rule in RULES if rule.web}


def run_curate(sources: list[Path | str], workspace: Path, processes: bool = False, **sections: Any) -> dict:
    from flows.curate import curate
    from forge_core.config import ForgeConfig

    config = {"workspace": str(workspace), "dask": {"n_workers": 2, "processes": processes}, **sections}
    return curate(sources=[str(s) for s in sources], config=ForgeConfig.model_validate(config))


def ledger(result: dict) -> pl.DataFrame:
    return pl.read_parquet(result["ledger"])


def kept_text(result: dict) -> pl.DataFrame:
    return pl.read_parquet(Path(result["dataset"]) / "shards" / "*.parquet")


def uri(path: Path, row: int | None = None) -> str:
    base = "file://" + str(path.resolve())
    return base if row is None else f"{base}#row={row}"

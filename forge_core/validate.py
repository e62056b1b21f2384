"""Great Expectations gates: each stage's output must meet its suite before the next stage runs.

Great Expectations 1.x has no polars data source, so a suite runs on a pandas view (pyarrow
backed) of the stage's gate columns: all rows up to
validation.max_rows, a seeded sample of each shard above it. The saved result says which.

The suite does not run on the documents themselves: each stage's workers compute the columns it
checks beside each shard (gate_columns.py), so a gate reads a few bytes per document. The cleaned
stage also gets a residual-PII check from clean.pii at run time (GateColumns.gate_suite).
"""

from __future__ import annotations

import json
import math
import posixpath
import uuid
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import Field

from forge_core.clean.pii import CHECKED, PiiConfig, checked_fingerprint, residual_pii
from forge_core.gate_columns import HEAVY, GateColumns, ResidualCheck, backfill
from forge_core.identity import digest
from forge_core.io.shards import read_shard
from forge_core.io.workspace import Workspace
from forge_core.section import Section

BUILTIN_SUITES = Path(__file__).resolve().parent.parent / "expectations"
STAGES = ("ingested", "cleaned", "deduplicated")


class ValidationConfig(Section):
    """Great Expectations gates between stages."""

    enabled: bool = Field(default=True, description="Run the suites; a failing suite stops the flow.")
    suites_dir: str | None = Field(
        default=None, description="Folder of <stage>.json suites to use instead of the built-in expectations/."
    )
    max_rows: int = Field(
        default=200_000, gt=0, description="Validate at most this many rows per stage (a seeded sample above it)."
    )


class ValidationFailed(RuntimeError):
    """A stage's output broke its suite; the message names each failing expectation and values."""


def suites_dir(cfg: ValidationConfig) -> Path:
    return Path(cfg.suites_dir) if cfg.suites_dir else BUILTIN_SUITES


def load_suite(cfg: ValidationConfig, stage: str) -> dict[str, Any]:
    path = suites_dir(cfg) / f"{stage}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValidationFailed(f"{path}: no suite for stage '{stage}' (validation.suites_dir)") from None
    except json.JSONDecodeError as e:
        raise ValidationFailed(f"{path}: not valid JSON: {e}") from None


def suites_digest(cfg: ValidationConfig) -> str:
    """Part of the dataset_id: a changed rule makes a new dataset version."""
    return digest([load_suite(cfg, s) for s in STAGES]) if cfg.enabled else "disabled"


@dataclass(frozen=True)
class GateShard:
    """One shard as its gate sees it: the shard, its row count, and the work folder that holds the
    columns its worker computed for the gate (gate_columns.py)."""

    docs_path: str
    rows: int
    folder: str


def gate_shards(shards: list[tuple[str, int]] | list[GateShard]) -> list[GateShard]:
    """(path, rows) pairs, as callers outside a flow pass them, keep their columns beside the shard."""
    return [s if isinstance(s, GateShard) else GateShard(s[0], s[1], posixpath.dirname(s[0])) for s in shards]


def gate_for(cfg: ValidationConfig, stage: str, pii: PiiConfig | None = None) -> GateColumns:
    """What the workers of `stage` compute for its gate (pii: the run's clean.pii, checked after cleaning).

    The residual-PII check is Forge's own detectors (phonenumbers, Luhn, IBAN checksums, ...), not a
    list of regexes over the text: a 16-digit order number that fails Luhn was rightly kept and must
    not fail the gate. Its column holds type names, never values, so a failing gate does not copy PII
    into the saved result, the orchestrator's UI or MLflow. Types set to keep are not counted."""
    residual = None
    if pii is not None and stage == "cleaned":
        residual = ResidualCheck(
            partial(residual_pii, cfg=pii),
            pii.residual_max_rate,
            pii.model_dump(),
            checked=CHECKED,
            fingerprint=partial(checked_fingerprint, regions=tuple(pii.phone_regions)),
        )
    return GateColumns(stage, load_suite(cfg, stage), residual)


def stage_view(
    ws: Workspace, shards: list[GateShard], gate: GateColumns, max_rows: int, seed: int = 0
) -> tuple[pl.DataFrame, int]:
    """The gate's columns of every row, or of a proportional seeded sample of each shard above
    max_rows; the text too only where a custom expectation needs it (GateColumns.read_in_gate)."""
    total = sum(s.rows for s in shards)
    with_text = bool(gate.read_in_gate())
    frames = []
    for i, s in enumerate(shards):
        if s.rows == 0:
            continue
        frame = read_shard(ws, backfill(ws, s.folder, s.docs_path, gate))
        if with_text:
            frame = frame.with_columns(read_shard(ws, s.docs_path, columns=[HEAVY])[HEAVY])
        if total > max_rows:
            frame = frame.sample(n=min(s.rows, math.ceil(max_rows * s.rows / total)), seed=seed + i)
        frames.append(frame)
    if frames:
        return pl.concat(frames), total
    # Keep the columns so column expectations report, rather than crash.
    empty = read_shard(ws, shards[0].docs_path) if shards else pl.DataFrame()
    return gate.compute(empty).with_columns(empty[HEAVY]) if with_text else gate.compute(empty), total


def preload() -> None:
    """Import Great Expectations and make its context now (2 s), while something else is waited for."""
    _context()


@cache
def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def run_suite(frame: pl.DataFrame, suite: dict[str, Any], stage: str, written: dict[str, Any] | None = None) -> dict:
    """Run one suite on a frame; returns Forge's summary with Great Expectations' own result inside.

    written: the suite as its file says, when `suite` is its rewrite onto computed columns (each
    rewritten expectation's meta.forge_check is its index there): checks are reported as written."""
    import great_expectations as gx

    context = _context()
    name = f"{stage}-{digest(suite, length=8)}"
    source = context.data_sources.add_or_update_pandas(f"forge-{name}")
    batch = source.add_dataframe_asset(stage).add_batch_definition_whole_dataframe("all")
    gx_suite = gx.ExpectationSuite(name=name, expectations=suite.get("expectations", []))
    gx_suite = context.suites.add_or_update(gx_suite)
    # A definition is stored under its name on first run; one context serves many runs here.
    definition = gx.ValidationDefinition(name=f"{name}-{uuid.uuid4().hex[:8]}", data=batch, suite=gx_suite)
    result = definition.run(batch_parameters={"dataframe": frame.to_pandas(use_pyarrow_extension_array=True)})
    checks = []
    for r in result.results:
        cfg = r.expectation_config
        kind, kwargs = cfg.type, {k: v for k, v in cfg.kwargs.items() if k != "batch_id"}
        computed = None
        origin = (cfg.meta or {}).get("forge_check")
        if written is not None and isinstance(origin, int):
            original = written["expectations"][origin]
            if original["kwargs"].get("column") != kwargs.get("column"):
                computed = kwargs.get("column")
            kind, kwargs = original["type"], dict(original["kwargs"])
        details = r.result or {}
        checks.append(
            {
                "expectation": kind,
                "kwargs": kwargs,
                "computed_column": computed,
                "success": bool(r.success),
                "unexpected_count": details.get("unexpected_count"),
                "unexpected_values": details.get("partial_unexpected_list"),
                "observed_value": details.get("observed_value"),
                "exception": (r.exception_info or {}).get("exception_message") if not r.success else None,
            }
        )
    return {"success": bool(result.success), "checks": checks, "great_expectations": result.to_json_dict()}


def describe_failures(stage: str, summary: dict[str, Any]) -> str:
    where = f"{summary['suite']}, {summary['view']}"
    lines = [f"validation failed at stage '{stage}' ({where}):"]
    for check in summary["checks"]:
        if check["success"]:
            continue
        args = ", ".join(f"{k}={v!r}" for k, v in check["kwargs"].items())
        line = f"  {check['expectation']}({args})"
        if check["unexpected_values"] is not None:
            values = [str(v)[:80] for v in check["unexpected_values"][:5]]
            line += f": {check['unexpected_count']} unexpected, e.g. {values}"
        elif check["observed_value"] is not None:
            line += f": observed {check['observed_value']!r}"
        if check["exception"]:
            line += f": {check['exception']}"
        lines.append(line)
    return "\n".join(lines)


def validate_stage(
    ws: Workspace,
    stage: str,
    shards: list[tuple[str, int]] | list[GateShard],
    cfg: ValidationConfig,
    out_path: str,
    pii: PiiConfig | None = None,
) -> dict[str, Any]:
    """Validate a stage's shards, save the result at out_path, and raise if the suite failed.

    With `pii` (the run's clean.pii), the cleaned stage is also checked for residual PII. The gate
    reads the columns the stage's workers computed for it; a shard without them (reused from a run
    before this suite) gets them here, in this process: the flow computes those on its cluster first."""
    gate = gate_for(cfg, stage, pii)
    frame, total = stage_view(ws, gate_shards(shards), gate, cfg.max_rows)
    summary = run_suite(frame, gate.gate_suite(), stage, written=gate.suite)
    summary.update(
        stage=stage,
        read_text_for=[e["type"] for e in gate.read_in_gate()],
        suite=str(suites_dir(cfg) / f"{stage}.json"),
        rows_total=total,
        rows_validated=frame.height,
        view="all rows" if frame.height == total else f"seeded sample of {frame.height} of {total} rows",
    )
    ws.write_json(out_path, summary)
    if not summary["success"]:
        raise ValidationFailed(describe_failures(stage, summary))
    return summary

"""Great Expectations gates: each stage's output must meet its suite before the next stage runs.

Great Expectations 1.x has no polars data source, so a suite runs on a pandas view (pyarrow
backed, no copy of the strings into Python objects) of the stage's shards: all rows up to
validation.max_rows, a seeded sample of each shard above it. The saved result says which.

The cleaned stage also gets a residual-PII gate from clean.pii at run time (see residual_pii_gate).
"""

from __future__ import annotations

import json
import math
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import Field

from forge_core.clean.pii import PiiConfig, residual_pii
from forge_core.identity import digest
from forge_core.io.shards import read_shard
from forge_core.io.workspace import Workspace
from forge_core.section import Section

BUILTIN_SUITES = Path(__file__).resolve().parent.parent / "expectations"
STAGES = ("ingested", "cleaned", "deduplicated")
RESIDUAL_PII = "residual_pii"


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


def stage_view(ws: Workspace, shards: list[tuple[str, int]], max_rows: int, seed: int = 0) -> tuple[pl.DataFrame, int]:
    """All rows of a stage, or a proportional seeded sample of each shard above max_rows."""
    total = sum(n for _, n in shards)
    frames = []
    for i, (path, n) in enumerate(shards):
        if n == 0:
            continue
        frame = read_shard(ws, path)
        if total > max_rows:
            frame = frame.sample(n=min(n, math.ceil(max_rows * n / total)), seed=seed + i)
        frames.append(frame)
    view = pl.concat(frames) if frames else None
    if view is None:  # keep the columns so column expectations report, rather than crash
        view = read_shard(ws, shards[0][0]) if shards else pl.DataFrame()
    return view, total


def residual_pii_gate(frame: pl.DataFrame, suite: dict[str, Any], pii: PiiConfig) -> tuple[pl.DataFrame, dict]:
    """The frame with a residual_pii column (the PII types cleaning should have removed but that are still
    in a document's text, e.g. "email,credential"; null when none) and the suite with an expectation that
    at most clean.pii.residual_max_rate of the documents have any.

    The scan is Forge's own detectors (phonenumbers, Luhn, IBAN checksums, ...), not a list of regexes
    over the text: a 16-digit order number that fails Luhn was rightly kept and must not fail the gate.
    The column holds type names, never values, so a failing gate does not copy PII into the saved result,
    the orchestrator's UI or MLflow. Types set to keep are there on purpose and are not counted.
    """
    texts = frame["text"] if "text" in frame.columns else pl.Series([None] * frame.height, dtype=pl.String)
    found = pl.Series(RESIDUAL_PII, [residual_pii(t, pii) for t in texts], dtype=pl.String)
    expectation = {
        "type": "expect_column_values_to_be_null",
        "kwargs": {"column": RESIDUAL_PII, "mostly": 1.0 - pii.residual_max_rate},
        "meta": {
            "why": "PII that clean.pii should have redacted or dropped is still in the text "
            "(values list the types found, never the PII); mostly = 1 - clean.pii.residual_max_rate",
        },
    }
    return frame.with_columns(found), {**suite, "expectations": [*suite.get("expectations", []), expectation]}


@cache
def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def run_suite(frame: pl.DataFrame, suite: dict[str, Any], stage: str) -> dict[str, Any]:
    """Run one suite on a frame; returns Forge's summary with Great Expectations' own result inside."""
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
        kwargs = {k: v for k, v in cfg.kwargs.items() if k != "batch_id"}
        details = r.result or {}
        checks.append(
            {
                "expectation": cfg.type,
                "kwargs": kwargs,
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
    shards: list[tuple[str, int]],
    cfg: ValidationConfig,
    out_path: str,
    pii: PiiConfig | None = None,
) -> dict[str, Any]:
    """Validate a stage's shards, save the result at out_path, and raise if the suite failed.

    With `pii` (the run's clean.pii), the cleaned stage is also checked for residual PII."""
    suite = load_suite(cfg, stage)
    frame, total = stage_view(ws, shards, cfg.max_rows)
    if stage == "cleaned" and pii is not None:
        frame, suite = residual_pii_gate(frame, suite, pii)
    summary = run_suite(frame, suite, stage)
    summary.update(
        stage=stage,
        suite=str(suites_dir(cfg) / f"{stage}.json"),
        rows_total=total,
        rows_validated=frame.height,
        view="all rows" if frame.height == total else f"seeded sample of {frame.height} of {total} rows",
    )
    ws.write_json(out_path, summary)
    if not summary["success"]:
        raise ValidationFailed(describe_failures(stage, summary))
    return summary

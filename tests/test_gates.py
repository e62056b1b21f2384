"""Gates that cost little: the columns a suite checks are computed by the stage's workers
(forge_core/gate_columns.py), and the gate still decides exactly as the suite does on the text."""

from __future__ import annotations

import dataclasses
import json

import polars as pl
import pytest
from documents import doc_frame

from forge_core.clean import pipeline
from forge_core.clean.pii import PiiConfig
from forge_core.clean.pipeline import CleanConfig, clean_shard
from forge_core.gate_columns import HEAVY, GateColumns
from forge_core.io.shards import read_shard, write_shard
from forge_core.io.workspace import Workspace
from forge_core.schema import INGESTED
from forge_core.validate import (
    BUILTIN_SUITES,
    GateShard,
    ValidationConfig,
    ValidationFailed,
    gate_for,
    load_suite,
    run_suite,
    validate_stage,
)

TEXTS = [
    "A plain paragraph about the quarterly maintenance of pump 7.",
    " Starts with a space.",
    "Ends with a newline.\n",
    "Holds a bell \x07 in the middle.",
    None,
    "A plain paragraph about the quarterly maintenance of pump 7.",  # the same text again
    "short",
    "x" * 300,
]

# The built-in cleaned suite plus one of every kind the workers compute, some with `mostly`, on a
# frame with a null text: Great Expectations leaves nulls out of map expectations and their
# `mostly`, and the rewritten suite must too.
SUITE = {
    "name": "all-kinds",
    "expectations": [
        *load_suite(ValidationConfig(), "cleaned")["expectations"],
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "text", "regex": "^[A-Z]"}},
        {
            "type": "expect_column_values_to_match_regex",
            "kwargs": {"column": "text", "regex": "paragraph", "mostly": 0.25},
        },
        {"type": "expect_column_value_lengths_to_be_between", "kwargs": {"column": "text", "max_value": 200}},
        {
            "type": "expect_column_value_lengths_to_be_between",
            "kwargs": {"column": "text", "min_value": 6, "max_value": 400, "mostly": 0.8},
        },
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "text"}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "text", "mostly": 0.8}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "text", "mostly": 0.8}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "n_words", "min_value": 2}},
    ],
}


def frame() -> pl.DataFrame:
    rows = doc_frame([t or "" for t in TEXTS], stage="cleaned")
    return rows.with_columns(pl.Series("text", TEXTS, dtype=pl.String))


def outcomes(summary: dict) -> list[tuple[str, dict, bool, int | None]]:
    """Each check's outcome; Great Expectations returns them in an order of its own."""
    return sorted(
        ((c["expectation"], c["kwargs"], c["success"], c["unexpected_count"]) for c in summary["checks"]),
        key=lambda o: json.dumps(o, sort_keys=True),
    )


def test_the_computed_columns_decide_as_the_suite_does_on_the_text():
    """Great Expectations on the full text is the oracle: each check passes or fails alike, with the
    same number of unexpected documents, and is reported in the suite's own words."""
    gate = GateColumns("cleaned", SUITE)
    on_text = run_suite(frame(), SUITE, "cleaned")
    computed = gate.compute(frame())
    assert HEAVY not in computed.columns
    on_columns = run_suite(computed, gate.gate_suite(), "cleaned", written=SUITE)
    assert outcomes(on_columns) == outcomes(on_text)
    assert [c["success"] for c in on_text["checks"]].count(False) >= 6  # the frame trips most checks
    regex = next(c for c in on_columns["checks"] if c["kwargs"].get("regex") == "[\\x00-\\x08\\x0b\\x0e-\\x1f\\x7f]")
    assert regex["computed_column"] == "text#4" and "\\x07" in regex["unexpected_values"][0]


def test_a_custom_expectation_the_workers_do_not_compute_reads_the_text(tmp_path):
    suites = tmp_path / "suites"
    suites.mkdir()
    for stage in ("ingested", "cleaned", "deduplicated"):
        (suites / f"{stage}.json").write_text((BUILTIN_SUITES / f"{stage}.json").read_text())
    custom = {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "text", "value_set": ["a", "b"]}}
    pair = {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["doc_id", "text"]}}
    (suites / "ingested.json").write_text(json.dumps({"expectations": [custom, pair]}))
    ws = Workspace(str(tmp_path / "ws"))
    path = ws.path("ingested", "docs.parquet")
    n = write_shard(ws, path, doc_frame(["a", "b", "c"]), INGESTED)
    cfg = ValidationConfig(suites_dir=str(suites))
    with pytest.raises(ValidationFailed, match=r"value_set=\['a', 'b'\]\): 1 unexpected, e.g. \['c'\]"):
        validate_stage(ws, "ingested", [(path, n)], cfg, ws.path("v.json"))
    saved = ws.read_json(ws.path("v.json"))
    assert saved["read_text_for"] == ["expect_column_values_to_be_in_set", "expect_compound_columns_to_be_unique"]
    assert {c["expectation"]: c["success"] for c in saved["checks"]}["expect_compound_columns_to_be_unique"]


def cleaned_by_the_stage(tmp_path, texts: list[str], cfg: CleanConfig) -> tuple[Workspace, GateShard]:
    """clean_shard as a worker runs it: the cleaned shard and, beside it, its gate's columns."""
    ws = Workspace(str(tmp_path / "ws"))
    source = ws.path("ingested", "docs.parquet")
    write_shard(ws, source, doc_frame(texts), INGESTED)
    folder = ws.path("cache", "clean", "shard")
    gate = gate_for(ValidationConfig(), "cleaned", cfg.pii)
    counts = clean_shard(ws, folder, source, cfg, gate)
    columns = read_shard(ws, gate.file(folder))
    assert HEAVY not in columns.columns and columns.height == counts.n_kept
    return ws, GateShard(f"{folder}/docs.parquet", counts.n_kept, folder)


LEAKS = [f"Pump {i} was serviced; write to jane.doe{i}\uff20example.com with questions." for i in range(3)]
NOTES = [f"Pump {i} was serviced on schedule and the seals were replaced as planned." for i in range(20)]


def with_rules(monkeypatch, rules: list) -> None:
    monkeypatch.setattr(pipeline, "RULES", rules)


def test_redaction_as_configured_passes_its_gate(tmp_path):
    cfg = CleanConfig(profile="none", normalize={"unicode_form": "NFKC"})
    ws, shard = cleaned_by_the_stage(tmp_path, LEAKS + NOTES, cfg)
    summary = validate_stage(ws, "cleaned", [shard], ValidationConfig(), ws.path("v.json"), pii=cfg.pii)
    assert summary["success"] and summary["read_text_for"] == []
    assert "<EMAIL>" in read_shard(ws, shard.docs_path)["text"][0]


def test_the_residual_check_searches_only_what_redaction_did_not_clear(tmp_path, monkeypatch):
    """A text the PII step searched and found nothing in, unchanged since, is not searched again by
    the gate's column; texts it redacted are. (A text changed after the step, as when PII runs
    before NFKC, is searched: the misordered case below.)"""
    searched: list[str] = []
    find = pipeline.pii.residual_pii

    def counting(text, cfg):
        searched.append(text)
        return find(text, cfg)

    monkeypatch.setattr("forge_core.validate.residual_pii", counting)
    cfg = CleanConfig(profile="none", normalize={"unicode_form": "NFKC"})
    ws, shard = cleaned_by_the_stage(tmp_path, LEAKS + NOTES, cfg)
    assert len(searched) == len(LEAKS) and all("<EMAIL>" in t for t in searched)
    assert pipeline.pii.CHECKED not in read_shard(ws, shard.docs_path).columns
    summary = validate_stage(ws, "cleaned", [shard], ValidationConfig(), ws.path("v.json"), pii=cfg.pii)
    assert summary["success"]
    # Other phone regions for the check than for the step: nothing is taken on trust.
    searched.clear()
    other = CleanConfig(profile="none", normalize={"unicode_form": "NFKC"}, pii={"phone_regions": ["US"]})
    gate = gate_for(ValidationConfig(), "cleaned", other.pii)
    clean_shard(ws, ws.path("cache", "clean", "other"), ws.path("ingested", "docs.parquet"), cfg, gate)
    assert len(searched) == len(LEAKS + NOTES)


@pytest.mark.parametrize("fault", ["bypassed", "misordered", "regressed"])
def test_the_gate_catches_a_broken_redaction_step(tmp_path, monkeypatch, fault):
    """What the gate is for, now that the workers compute its column: PII left in the cleaned text
    by a skipped step, by PII running before NFKC folds '＠' into '@', or by a detector that
    stopped finding e-mail addresses, fails the cleaned stage, naming types and never the values."""
    rules = list(pipeline.RULES)
    pii_rule = next(r for r in rules if r.name == "pii")
    if fault == "bypassed":
        rules.remove(pii_rule)
    elif fault == "misordered":
        rules.remove(pii_rule)
        rules.insert(0, pii_rule)
    else:
        regressed = pii_rule.apply

        def no_email(shard, cfg):
            return regressed(shard, cfg.model_copy(update={"email": "keep"}))

        rules[rules.index(pii_rule)] = dataclasses.replace(pii_rule, apply=no_email)
    with_rules(monkeypatch, rules)
    cfg = CleanConfig(profile="none", normalize={"unicode_form": "NFKC"})
    ws, shard = cleaned_by_the_stage(tmp_path, LEAKS + NOTES, cfg)
    with pytest.raises(ValidationFailed) as err:
        validate_stage(ws, "cleaned", [shard], ValidationConfig(), ws.path("v.json"), pii=PiiConfig())
    message = str(err.value)
    assert "expect_column_values_to_be_null(column='residual_pii', mostly=0.999): 3 unexpected" in message
    assert "'email'" in message and "example.com" not in message

"""What a validation gate checks, computed on the workers that make the data.

A gate used to read every document of its stage into one process and run its suite over the text
(and, for the cleaned stage, every PII detector once more): on a large corpus as long as the
parallel stage before it. Now the worker that writes a shard also writes, beside it, the few
columns the gate needs (gate-<digest>.parquet in the shard's work folder): the suite's small
columns as they are (doc_id, n_words, text_hash, ...), one derived column per expectation on the
text, and, for the cleaned stage, the residual-PII column. The gate then runs the same Great
Expectations suite, rewritten onto the derived columns, over a frame of a few bytes per document.

A derived column holds, per document, "pass", or an excerpt of what failed (a regex's match in
its context, the start of a text that should have matched), or null where the text is null: Great
Expectations leaves nulls out of a map expectation and out of its `mostly`, and so does the
rewritten one. The gate reports each check as the suite wrote it, with the derived column beside.
An expectation on the text that is not computed here (a custom suite's) is run on the text itself,
read by the gate: correct, and as slow as before, for that expectation only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from forge_core.identity import digest
from forge_core.io.shards import read_shard
from forge_core.io.workspace import Workspace

HEAVY = "text"  # the column no gate should carry or re-scan in one process
PASS = "pass"
RESIDUAL_PII = "residual_pii"
EXCERPT = 80

# Expectations on the text that a worker evaluates per document, and what the gate runs instead.
PER_DOCUMENT = {
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_not_match_regex",
    "expect_column_value_lengths_to_be_between",
    "expect_column_values_to_be_unique",
}


def _excerpt(text: str, start: int = 0, end: int | None = None) -> str:
    """Where a check failed, in a short printable form (repr shows the control character or the space)."""
    end = start if end is None else end
    lo = max(0, start - 20)
    return repr(text[lo : max(end + 20, lo + 40)])[:EXCERPT]


def _regex_outcomes(texts: pl.Series, regex: str, should_match: bool) -> pl.Series:
    """re.search per document, as Great Expectations' pandas backend runs the regex (str.contains)."""
    pattern = re.compile(regex)
    out: list[str | None] = []
    for text in texts:
        if text is None:
            out.append(None)
            continue
        found = pattern.search(text)
        if should_match:
            out.append(PASS if found else _excerpt(text))
        else:
            out.append(PASS if found is None else _excerpt(text, found.start(), found.end()))
    return pl.Series(out, dtype=pl.String)


def _fingerprints(texts: pl.Series) -> pl.Series:
    return pl.Series(
        [None if t is None else hashlib.blake2b(t.encode(), digest_size=16).hexdigest() for t in texts],
        dtype=pl.String,
    )


@dataclass(frozen=True)
class ResidualCheck:
    """The cleaned stage's residual-PII check, as validate.py builds it from clean.pii: `find` names
    the types still in a text ("email,credential") or None; at most max_rate of documents may have any."""

    find: Callable[[str | None], str | None]
    max_rate: float
    settings: dict[str, Any]  # what the check depends on, for the columns' file name
    # The cleaning step's record of the texts it searched and found nothing in: a column of
    # fingerprints, and how to fingerprint a text the same way (with the check's own settings).
    checked: str | None = None
    fingerprint: Callable[[str], bytes] | None = None

    def column(self, frame: pl.DataFrame, texts: pl.Series) -> pl.Series:
        """The residual-PII column: find on every text, except a text the redaction step searched
        with the same detectors and settings and found nothing in, unchanged since (by its
        fingerprint). A text edited after that step, or one in which it found PII, is searched."""
        if self.checked is None or self.fingerprint is None or self.checked not in frame.columns:
            return pl.Series(RESIDUAL_PII, [self.find(t) for t in texts], dtype=pl.String)
        fingerprint = self.fingerprint
        values = [
            None if seen is not None and text is not None and seen == fingerprint(text) else self.find(text)
            for text, seen in zip(texts, frame[self.checked], strict=True)
        ]
        return pl.Series(RESIDUAL_PII, values, dtype=pl.String)


@dataclass(frozen=True)
class GateColumns:
    """One stage's gate: its suite as written, and what the workers compute for it."""

    stage: str
    suite: dict[str, Any]
    residual: ResidualCheck | None = None

    @property
    def key(self) -> str:
        residual = self.residual.settings if self.residual is not None else None
        return digest(self.stage, self.suite, residual, length=12)

    def file(self, folder: str) -> str:
        return f"{folder}/gate-{self.key}.parquet"

    def expectations(self) -> list[dict[str, Any]]:
        return list(self.suite.get("expectations", []))

    def derived_name(self, i: int) -> str:
        return f"{HEAVY}#{i}"

    def computed(self, e: dict[str, Any]) -> bool:
        return e["kwargs"].get("column") == HEAVY and e["type"] in PER_DOCUMENT

    def small_columns(self, available: list[str]) -> list[str]:
        """The suite's columns other than the text, in the order the frame has them."""
        named = {e["kwargs"].get("column") for e in self.expectations()}
        named |= {c for e in self.expectations() for c in e["kwargs"].get("column_list", [])}
        named |= {e["kwargs"].get(k) for e in self.expectations() for k in ("column_A", "column_B")}
        return [c for c in available if c in named and c != HEAVY]

    def read_in_gate(self) -> list[dict[str, Any]]:
        """Expectations on the text that the workers do not compute (a column pair or list holding the
        text included): the gate reads the text for these."""

        def names_text(kwargs: dict[str, Any]) -> bool:
            pair = [kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B")]
            return HEAVY in [*pair, *kwargs.get("column_list", [])]

        return [e for e in self.expectations() if names_text(e["kwargs"]) and not self.computed(e)]

    def compute(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The gate's columns for one shard, one row per document in the shard's order."""
        texts = frame[HEAVY] if HEAVY in frame.columns else pl.Series([None] * frame.height, dtype=pl.String)
        small = self.small_columns(frame.columns)
        # A frame of no columns has no rows either: keep the row count in a column of its own.
        out = frame.select(small) if small else pl.DataFrame({"#row": pl.int_range(frame.height, eager=True)})
        derived = []
        for i, e in enumerate(self.expectations()):
            if not self.computed(e):
                continue
            kind, kwargs = e["type"], e["kwargs"]
            if kind == "expect_column_values_to_not_be_null":
                column = pl.Series([PASS if t is not None else "null" for t in texts], dtype=pl.String)
            elif kind == "expect_column_values_to_match_regex":
                column = _regex_outcomes(texts, kwargs["regex"], should_match=True)
            elif kind == "expect_column_values_to_not_match_regex":
                column = _regex_outcomes(texts, kwargs["regex"], should_match=False)
            elif kind == "expect_column_value_lengths_to_be_between":
                column = texts.str.len_chars().cast(pl.Int64)
            else:  # expect_column_values_to_be_unique
                column = _fingerprints(texts)
            derived.append(column.alias(self.derived_name(i)))
        if self.residual is not None:
            derived.append(self.residual.column(frame, texts))
        return out.with_columns(derived) if derived else out

    def gate_suite(self) -> dict[str, Any]:
        """The suite as the gate runs it on the computed columns; meta.forge_check points back at the
        expectation as written (its index), so the gate can report it in the suite's own words."""
        rewritten = []
        for i, e in enumerate(self.expectations()):
            meta = {**e.get("meta", {}), "forge_check": i}
            if not self.computed(e):
                rewritten.append({**e, "meta": meta})
                continue
            kwargs = {k: v for k, v in e["kwargs"].items() if k in ("mostly", "min_value", "max_value")}
            kwargs["column"] = self.derived_name(i)
            kwargs.update({k: v for k, v in e["kwargs"].items() if k in ("strict_min", "strict_max")})
            if e["type"] == "expect_column_value_lengths_to_be_between":
                kind = "expect_column_values_to_be_between"
            elif e["type"] == "expect_column_values_to_be_unique":
                kind = "expect_column_values_to_be_unique"
                kwargs = {k: v for k, v in kwargs.items() if k in ("column", "mostly")}
            else:
                kind = "expect_column_values_to_be_in_set"
                kwargs = {k: v for k, v in kwargs.items() if k in ("column", "mostly")} | {"value_set": [PASS]}
            rewritten.append({"type": kind, "kwargs": kwargs, "meta": meta})
        if self.residual is not None:
            rewritten.append(
                {
                    "type": "expect_column_values_to_be_null",
                    "kwargs": {"column": RESIDUAL_PII, "mostly": 1.0 - self.residual.max_rate},
                    "meta": {
                        "why": "PII that clean.pii should have redacted or dropped is still in the text "
                        "(values list the types found, never the PII); mostly = 1 - clean.pii.residual_max_rate",
                        "forge_check": "residual_pii",
                    },
                }
            )
        return {**self.suite, "expectations": rewritten}


def write_gate_columns(ws: Workspace, folder: str, frame: pl.DataFrame, gate: GateColumns | None) -> None:
    """Called by a stage's shard function with the frame it just wrote (no second read)."""
    if gate is not None:
        _write(ws, gate.file(folder), gate.compute(frame))


def backfill(ws: Workspace, folder: str, docs_path: str, gate: GateColumns) -> str:
    """The gate's columns for a shard reused from an earlier run (written before this suite existed):
    read it once, on a worker. Returns the columns' path."""
    path = gate.file(folder)
    if not ws.exists(path):
        _write(ws, path, gate.compute(read_shard(ws, docs_path)))
    return path


def _write(ws: Workspace, path: str, frame: pl.DataFrame) -> None:
    import io

    buf = io.BytesIO()
    frame.write_parquet(buf, compression="zstd")
    ws.write_bytes(path, buf.getvalue())

"""Machine logs: lines that begin with a timestamp, a log level or a kernel clock, or lines cut from
a few templates ("Unpacking X ...", "Setting up X ..."): a program wrote them, not a person. A
ticket that quotes a few log lines around its own words is genuine; a log file is not."""

from __future__ import annotations

import re
from collections import Counter

import polars as pl
from pydantic import Field

from forge_core.section import Section
from forge_core.steps import StepResult, apply_rules

REASONS = {
    "machine_log": "mostly lines that start with a timestamp or a log level, or templated lines naming files "
    "and versions"
}
FIRST_WORD = re.compile(r"[A-Za-z][\w-]*")
SENTENCE_END = re.compile(r"[.!?。！？]\s*$")
# What a program names: a number, a path, a file name with its extension, a namespaced identifier.
MACHINE_NAME = re.compile(r"\d|\w/\w|/\w|\w\.[a-z]{1,4}\b|\w[:_]\w")

MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
# Anchored, with one unambiguous run of leading blanks: "\s*\[?\s*" split a line of blanks between
# its two runs in n^2 ways per start, which held a worker for hours on one long line.
LOG_LINE = re.compile(
    r"^\s*+(?:\[\s*+)?(?:"
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}"  # ISO 8601: 2024-05-02T14:03 or 2024-05-02 14:03
    r"|\d{4}/\d{2}/\d{2} \d{2}:\d{2}"  # 2024/05/02 14:03
    r"|" + MONTH + r" {1,2}\d{1,2} \d{2}:\d{2}:\d{2}"  # syslog: May  2 14:03:11
    r"|\d{1,2}/" + MONTH + r"/\d{4}:\d{2}:\d{2}"  # common log format: 02/May/2024:14:03
    r"|\d+\.\d{3,}\]"  # kernel: [   12.345678]
    r"|\d{2}:\d{2}:\d{2}[.,]\d+"  # 14:03:11.123
    r"|(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|CRITICAL|CRIT)\b[\]:]?"  # a level first
    r"|<IP_ADDRESS> - \S+ \["  # an access log line after PII redaction
    r"|[\w.-]+:? \d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}"  # a program, then the time
    r"|\d+ (?:silly|verbose|timing|http|info|notice|warn|error)\b"  # npm's numbered debug log
    r")"
)


class LogsConfig(Section):
    """Machine logs: most lines stamped with a time, a level or a kernel clock, or short lines
    from a few templates that name files, versions and ids."""

    NUMBERS = (
        "max_log_share 0.6: labelled set: genuine documents at most 0.09 of their characters in stamped lines, "
        "logs with stamps 1.0. min_template_share 0.7: labelled set: genuine documents of 4+ lines at most 0.6 "
        "(99th percentile 0.4), logs 0.75 median. min_machine_share 0.6, prose_words 8, max_prose_share 0.2: "
        "choices checked on the Python docs of ../shared/corpora (API pages that list one function per line "
        "stay). min_lines, min_template_lines 4: a choice (three lines are a quote)."
    )

    enabled: bool | None = Field(default=None, description="true or false; empty: as clean.profile says.")
    min_lines: int = Field(default=4, ge=1, description="Documents with fewer non-empty lines are not judged.")
    max_log_share: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="Share of characters in lines that look like log lines, at most (a ticket quoting a few "
        "log lines stays under it: its own sentences are the longer part).",
    )
    min_template_lines: int = Field(
        default=4, ge=1, description="Documents with fewer lines are not judged by template."
    )
    min_machine_share: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="Templated lines count as a log when at least this share names something only a program "
        "names: a number, a path, a file name or an identifier ('debian:X.pem', 'compiler/Test.java').",
    )
    prose_words: int = Field(
        default=8, ge=1, description="A line of this many words or more that ends a sentence (. ! ?) is prose."
    )
    max_prose_share: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="Templated lines count as a log when less than this share of the characters is in prose "
        "lines (an API page that lists its functions one per line opens with paragraphs).",
    )
    min_template_share: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="Share of lines whose first word begins other lines too (2+ lines, 3+ in documents of 10 "
        "lines or more), at least (labelled set: genuine documents at most 0.6; logs 0.75 median).",
    )


def template_share(lines: list[str]) -> float:
    """Share of lines whose first word begins at least 2 lines (3 in a document of 10 lines or
    more): "Unpacking", "Setting", "Passed:". A line must begin with a word: bullets and indented
    lines are a person's lists and quotes."""
    if not lines:
        return 0.0
    firsts = [m.group(0).lower() if (m := FIRST_WORD.match(line)) else None for line in lines]
    counts = Counter(word for word in firsts if word)
    repeats = 2 if len(lines) < 10 else 3
    return sum(1 for word in firsts if word and counts[word] >= repeats) / len(lines)


def machine_log(text: str, cfg: LogsConfig) -> bool:
    lines, share = log_share(text)
    if lines >= cfg.min_lines and share > cfg.max_log_share:
        return True
    rows = [line for line in text.split("\n") if line.strip()]
    if len(rows) < cfg.min_template_lines or template_share(rows) < cfg.min_template_share:
        return False
    # Programs report the things they handle (versions, ids, files, paths) in short lines; meeting
    # notes that begin each paragraph with "What" are prose, and reference pages that repeat a type
    # name ("PyObject* PyNumber_Add(...)") name no files.
    chars = sum(map(len, rows))
    prose = sum(len(row) for row in rows if len(row.split()) >= cfg.prose_words and SENTENCE_END.search(row)) / chars
    named = sum(bool(MACHINE_NAME.search(row)) for row in rows) / len(rows)
    return prose < cfg.max_prose_share and named >= cfg.min_machine_share


def log_share(text: str) -> tuple[int, float]:
    """(non-empty lines, share of their characters in log lines)."""
    lines = [line for line in text.split("\n") if line.strip()]
    chars = sum(map(len, lines))
    logged = sum(len(line) for line in lines if LOG_LINE.match(line))
    return len(lines), (logged / chars if chars else 0.0)


def logs_filter(shard: pl.DataFrame, cfg: LogsConfig) -> StepResult:
    if shard.is_empty():
        return StepResult(kept=shard)
    fails = pl.Series([machine_log(t, cfg) for t in shard["text"]])
    detail = (
        f"characters in log lines > clean.logs.max_log_share = {cfg.max_log_share}, or templated lines "
        f">= clean.logs.min_template_share = {cfg.min_template_share}"
    )
    return apply_rules(shard, [("machine_log", fails, detail)])

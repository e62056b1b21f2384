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

REASONS = {"machine_log": "mostly lines that start with a timestamp or a log level, or with a few template words"}
FIRST_WORD = re.compile(r"[A-Za-z][\w-]*")

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
    """Machine logs: most lines stamped with a time, a level or a kernel clock."""

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
        default=8, ge=1, description="Documents with fewer lines are not judged by template."
    )
    min_numbered_share: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Templated lines count as a log when this share holds a digit."
    )
    max_template_share: float = Field(
        default=0.85,
        ge=0.0,
        le=1.0,
        description="Share of lines that begin with one of the three most common first words, at most (labelled "
        "set: genuine documents of 8+ lines at most 0.83; apt and dpkg logs 0.73 median, up to 1).",
    )


def template_share(lines: list[str]) -> float:
    """Share of lines that begin with one of the three most common first words (a line must begin
    with a word: bullets and indented lines are a person's lists and quotes)."""
    firsts = Counter(m.group(0).lower() for line in lines if (m := FIRST_WORD.match(line)))
    return sum(n for _, n in firsts.most_common(3)) / len(lines) if lines else 0.0


def machine_log(text: str, cfg: LogsConfig) -> bool:
    lines, share = log_share(text)
    if lines >= cfg.min_lines and share > cfg.max_log_share:
        return True
    rows = [line for line in text.split("\n") if line.strip()]
    if len(rows) < cfg.min_template_lines or template_share(rows) <= cfg.max_template_share:
        return False
    # Programs number what they report (versions, ids, sizes); reference pages that repeat a type
    # name at the start of each line ("PyObject* PyNumber_Add(...)") mostly do not.
    return sum(any(c.isdigit() for c in row) for row in rows) / len(rows) >= cfg.min_numbered_share


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
        f"characters in log lines > clean.logs.max_log_share = {cfg.max_log_share}, or lines from three "
        f"templates > clean.logs.max_template_share = {cfg.max_template_share}"
    )
    return apply_rules(shard, [("machine_log", fails, detail)])

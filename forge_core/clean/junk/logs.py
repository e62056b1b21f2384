"""Machine logs: lines that begin with a timestamp, a log level or a kernel clock. A ticket that
quotes a few log lines around its own words is genuine; a log file is not."""

from __future__ import annotations

import re

import polars as pl
from pydantic import Field

from forge_core.section import Section
from forge_core.steps import StepResult, apply_rules

REASONS = {"machine_log": "most of the text is lines that start with a timestamp or a log level"}

MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
LOG_LINE = re.compile(
    r"\s*\[?\s*(?:"
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}"  # ISO 8601: 2024-05-02T14:03 or 2024-05-02 14:03
    r"|\d{4}/\d{2}/\d{2} \d{2}:\d{2}"  # 2024/05/02 14:03
    r"|" + MONTH + r" {1,2}\d{1,2} \d{2}:\d{2}:\d{2}"  # syslog: May  2 14:03:11
    r"|\d{1,2}/" + MONTH + r"/\d{4}:\d{2}:\d{2}"  # common log format: 02/May/2024:14:03
    r"|\d+\.\d{3,}\]"  # kernel: [   12.345678]
    r"|\d{2}:\d{2}:\d{2}[.,]\d+"  # 14:03:11.123
    r"|(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|CRITICAL|CRIT)\b[\]:]?"  # a level first
    r"|<IP_ADDRESS> - \S+ \["  # an access log line after PII redaction
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


def log_share(text: str) -> tuple[int, float]:
    """(non-empty lines, share of their characters in log lines)."""
    lines = [line for line in text.split("\n") if line.strip()]
    chars = sum(map(len, lines))
    logged = sum(len(line) for line in lines if LOG_LINE.match(line))
    return len(lines), (logged / chars if chars else 0.0)


def logs_filter(shard: pl.DataFrame, cfg: LogsConfig) -> StepResult:
    if shard.is_empty():
        return StepResult(kept=shard)
    measured = [log_share(t) for t in shard["text"]]
    fails = pl.Series([n >= cfg.min_lines and share > cfg.max_log_share for n, share in measured])
    detail = f"characters in log lines > clean.logs.max_log_share = {cfg.max_log_share}"
    return apply_rules(shard, [("machine_log", fails, detail)])

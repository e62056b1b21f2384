"""PII redaction, first version: e-mail addresses and phone numbers, replaced by typed placeholders.

Phone numbers are matched in two shapes, international (+CC ...) and North American, then checked
for a plausible digit count; a bare run of digits, a date or a version number is not a phone.
"""

from __future__ import annotations

import re

import polars as pl

from forge_core.config import PiiConfig
from forge_core.steps import StepResult

EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){1,6}"  # international: +44 20 7946 0958, +1 (415) 555-0134
    r"|(?:1[ .-])?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}"  # North American: (212) 555-0147
    r")(?![\w])"
)
PLACEHOLDERS = {"email": "<EMAIL>", "phone": "<PHONE>"}


def _is_phone(match: str) -> bool:
    digits = sum(c.isdigit() for c in match)
    return 8 <= digits <= 15 if match.startswith("+") else digits in (10, 11)


def redact(text: str, cfg: PiiConfig) -> tuple[str, dict[str, int]]:
    """Redacted text and the number of each PII type found (found, whether redacted or kept)."""
    found = {"email": 0, "phone": 0}

    def email(m: re.Match) -> str:
        found["email"] += 1
        return PLACEHOLDERS["email"] if cfg.email == "redact" else m.group(0)

    def phone(m: re.Match) -> str:
        if not _is_phone(m.group(0)):
            return m.group(0)
        found["phone"] += 1
        return PLACEHOLDERS["phone"] if cfg.phone == "redact" else m.group(0)

    text = EMAIL.sub(email, text)
    text = PHONE.sub(phone, text)
    return text, found


def redact_pii(shard: pl.DataFrame, cfg: PiiConfig) -> StepResult:
    texts, totals, docs_with = [], {"email": 0, "phone": 0}, {"email": 0, "phone": 0}
    for text in shard["text"]:
        clean, found = redact(text, cfg)
        texts.append(clean)
        for kind, n in found.items():
            totals[kind] += n
            docs_with[kind] += n > 0
    counts = {f"found.{k}": v for k, v in totals.items()} | {f"docs_with.{k}": v for k, v in docs_with.items()}
    return StepResult(kept=shard.with_columns(text=pl.Series(texts, dtype=pl.String)), counts=counts)

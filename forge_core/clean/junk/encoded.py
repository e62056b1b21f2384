"""Encoded blobs: base64, hex and other long runs of an encoding alphabet (attachments pasted as
text, certificates, dumps). A genuine document may hold one hash or key; a blob is mostly that."""

from __future__ import annotations

import re

import polars as pl
from pydantic import Field

from forge_core.section import Section
from forge_core.steps import StepResult, apply_rules

REASONS = {"encoded_blob": "mostly base64 or hex runs"}

TOKEN = re.compile(r"\S+")
# base64 (standard and URL-safe, with padding) and hex; a run must mix letters and digits, so a long
# German compound or a URL path of words is no blob.
BLOB = re.compile(r"[A-Za-z0-9+/=_\-]+")


class EncodedConfig(Section):
    """Encoded blobs (base64, hex): long tokens of an encoding alphabet that mix letters and digits."""

    NUMBERS = (
        "min_token_chars 24: a choice, shorter than every encoding it is meant for (a SHA-1 in hex has 40 "
        "characters, a UUID 36, a base64 line 64-76). max_encoded_share 0.4: labelled set: genuine documents "
        "99th percentile 0.02, at most 0.40 (a config of UUIDs); encoded blobs 0.97 median."
    )

    enabled: bool | None = Field(default=None, description="true or false; empty: as clean.profile says.")
    min_token_chars: int = Field(
        default=24, ge=8, description="A token of the encoding alphabet this long or longer counts as encoded."
    )
    max_encoded_share: float = Field(
        default=0.4, ge=0.0, le=1.0, description="Share of non-space characters in encoded tokens, at most."
    )


def encoded_share(text: str, min_chars: int) -> float:
    total = encoded = 0
    for token in TOKEN.findall(text):
        total += len(token)
        if (
            len(token) >= min_chars
            and BLOB.fullmatch(token)
            and any(c.isdigit() for c in token)
            and any(c.isalpha() for c in token)
        ):
            encoded += len(token)
    return encoded / total if total else 0.0


def encoded_filter(shard: pl.DataFrame, cfg: EncodedConfig) -> StepResult:
    if shard.is_empty():
        return StepResult(kept=shard)
    fails = pl.Series([encoded_share(t, cfg.min_token_chars) > cfg.max_encoded_share for t in shard["text"]])
    detail = f"encoded characters > clean.encoded.max_encoded_share = {cfg.max_encoded_share}"
    return apply_rules(shard, [("encoded_blob", fails, detail)])

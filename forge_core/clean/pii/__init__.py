"""PII redaction: personal data and secrets found by type, validated, and replaced by typed placeholders.

Each type has a cheap regex that proposes candidates and a validator that confirms them, so that a
date, a version string or a 16-digit order number is left alone:

  credential   AWS access key ids and secret keys, private key blocks, bearer and basic authorization,
               GitHub, Slack, Stripe and Google tokens, JWTs, passwords in URLs and in `curl -u`, and
               `password=` / `secret:` / `api_key=` assignments whose value looks like a secret
  email        local@domain.tld
  phone        phonenumbers' matcher: +CC numbers in any region (Leniency.VALID), national numbers in
               each of clean.pii.phone_regions grouped as that country writes them (STRICT_GROUPING)
  credit_card  13-19 digits, bare or grouped by spaces or dashes, Luhn-valid, a card brand's prefix and length
  iban         country code, check digits and account, with or without spaces, valid per python-stdnum
  us_ssn       AAA-GG-SSSS or AAA GG SSSS under the SSA's rules
  ip_address   IPv4 and IPv6 addresses that the ipaddress module accepts

Overlaps, most specific first: credentials claim their spans before anything else looks (a token
holds digit runs that look like phones, a password in a URL looks like an e-mail); then e-mails,
IBANs, cards, SSNs and IP addresses, the longest span winning an overlap; then phones, searched only
in the text nobody claimed, since phonenumbers finds "numbers" inside cards, IBANs and addresses.

Each span found becomes <EMAIL>, <PHONE>, ... when its type's action is redact or drop (the document
is then dropped as well), and stays when it is keep; it is counted whatever the action.

Speed: every regex starts with a literal or a character class, so that Python's engine skips ahead
to where a match could begin (a leading lookbehind or \\b makes it try every position, 3-10 times
slower); boundaries are checked in Python on the few candidates instead. Rare shapes are gated by a
substring test, and phonenumbers, the slowest part, only sees short windows around digit runs.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from typing import Literal

import polars as pl
from pydantic import Field

from forge_core.clean.pii.addresses import find_emails, find_ips
from forge_core.clean.pii.credentials import find_credentials
from forge_core.clean.pii.identifiers import find_cards, find_iban_shapes, find_ibans, find_ssns
from forge_core.clean.pii.phones import checked_regions, find_phones
from forge_core.clean.pii.spans import Span
from forge_core.section import Section
from forge_core.steps import StepResult, drops

TYPES = ("email", "phone", "credit_card", "iban", "us_ssn", "ip_address", "credential")
PLACEHOLDERS = {kind: f"<{kind.upper()}>" for kind in TYPES}
# A document holding several types set to drop is dropped under the most sensitive one.
DROP_ORDER = ("credential", "us_ssn", "credit_card", "iban", "email", "phone", "ip_address")
# Overlap ties (same length) go to the more specific detector.
SPECIFICITY = {"iban": 0, "credit_card": 1, "us_ssn": 2, "email": 3, "ip_address": 4}

REASONS = {"pii_<type>": "holds personal data of a type whose action is drop (its most sensitive such type)"}

# A column the step leaves on the documents it kept, for the cleaned gate's residual check: the
# fingerprint of each text in which the detectors found nothing (null where they found something).
# A text that still has that fingerprint when the gate's column is computed holds no PII, by the
# same detectors, and is not searched a second time. Never written to a shard.
CHECKED = "_pii_checked"


def checked_fingerprint(text: str, regions: tuple[str, ...]) -> bytes:
    """The text and the phone regions it was searched with (the one setting find_pii reads)."""
    h = hashlib.blake2b(json.dumps(list(regions)).encode() + b"\0", digest_size=16)
    h.update(text.encode("utf-8", "surrogatepass"))
    return h.digest()


# Resolution --------------------------------------------------------------------------------------
class _Claims:
    """Non-overlapping spans in order, with an overlap test in O(log n)."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.spans: list[Span] = []

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self.starts, start)
        if i and self.spans[i - 1][1] > start:
            return True
        return i < len(self.spans) and self.spans[i][0] < end

    def add(self, span: Span) -> None:
        i = bisect.bisect_right(self.starts, span[0])
        self.starts.insert(i, span[0])
        self.spans.insert(i, span)


PiiAction = Literal["redact", "keep", "drop"]


class PiiConfig(Section):
    """What to do with each kind of personal data: redact (a typed placeholder such as <EMAIL>),
    keep, or drop the whole document.

    Typed and validated: e-mail, phone (phonenumbers), payment card (Luhn), IBAN (checksum), US SSN,
    IPv4/IPv6, credentials (AWS keys, private key blocks, bearer tokens, GitHub/Slack tokens, JWTs,
    password assignments); counts per type go into the ledger's `pii` column and the stats.
    """

    NUMBERS = (
        "residual_max_rate 0.001: a choice (after redaction, more than one document in a thousand still "
        "holding PII means a detector missed a format: the cleaned-stage gate fails)."
    )

    email: PiiAction = Field(default="redact", description="E-mail addresses -> <EMAIL>.")
    phone: PiiAction = Field(default="redact", description="Phone numbers, validated with phonenumbers -> <PHONE>.")
    credit_card: PiiAction = Field(default="redact", description="Payment card numbers, Luhn-checked -> <CREDIT_CARD>.")
    iban: PiiAction = Field(default="redact", description="IBANs, checksum-checked -> <IBAN>.")
    us_ssn: PiiAction = Field(default="redact", description="US social security numbers -> <US_SSN>.")
    ip_address: PiiAction = Field(default="redact", description="IPv4 and IPv6 addresses -> <IP_ADDRESS>.")
    credential: PiiAction = Field(
        default="redact",
        description="AWS keys, private key blocks, bearer tokens and other secrets -> <CREDENTIAL> (a pasted "
        "secret costs the secret, not the document; drop only when configured).",
    )
    phone_regions: list[str] = Field(
        default=["US", "GB", "DE", "FR"],
        description="Regions whose national formats count as phone numbers without a +country code.",
    )
    residual_max_rate: float = Field(
        default=0.001,
        ge=0.0,
        le=1.0,
        description="The cleaned-stage gate fails when more than this share of documents still holds PII.",
    )


def find_pii(text: str, regions: tuple[str, ...] = ("US", "GB", "DE", "FR")) -> list[Span]:
    """Every PII span in text, non-overlapping, in order: (start, end, type)."""
    claims = _Claims()
    # Credentials first; overlapping credential spans (a secret matched by two rules) merge into one.
    merged: list[list[int]] = []
    for start, end in sorted(find_credentials(text)):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        elif end > start:
            merged.append([start, end])
    for start, end in merged:
        claims.add((start, end, "credential"))

    digits = sum(map(text.count, "0123456789"))
    candidates: list[Span] = [(s, e, "email") for s, e in find_emails(text)]
    iban_shapes = find_iban_shapes(text) if digits >= 2 else []
    if digits >= 2:
        candidates += [(s, e, "iban") for s, e in find_ibans(iban_shapes)]
        candidates += [(s, e, "ip_address") for s, e in find_ips(text)]
    if digits >= 9:
        candidates += [(s, e, "us_ssn") for s, e in find_ssns(text)]
    if digits >= 13:
        candidates += [(s, e, "credit_card") for s, e in find_cards(text)]
    for start, end, kind in sorted(candidates, key=lambda c: (c[0] - c[1], SPECIFICITY[c[2]], c[0])):
        if not claims.overlaps(start, end):
            claims.add((start, end, kind))

    if digits >= 7:
        masks = [(s, e) for s, e, _ in claims.spans] + [m.span() for m in iban_shapes]
        phones = find_phones(text, masks, checked_regions(tuple(regions)))
        for start, end in sorted(set(phones), key=lambda p: (p[0] - p[1], p[0])):  # regions may differ: longest
            if not claims.overlaps(start, end):
                claims.add((start, end, "phone"))
    return claims.spans


def redact(text: str, cfg: PiiConfig) -> tuple[str, dict[str, int]]:
    """The text with PII replaced by placeholders (types set to keep stay), and the count of each type
    found whatever its action; only the types found appear, in the order of TYPES."""
    spans = find_pii(text, tuple(cfg.phone_regions))
    if not spans:
        return text, {}
    counts: dict[str, int] = {}
    out, pos = [], 0
    for start, end, kind in spans:
        counts[kind] = counts.get(kind, 0) + 1
        if getattr(cfg, kind) != "keep":
            out += [text[pos:start], PLACEHOLDERS[kind]]
            pos = end
    out.append(text[pos:])
    return "".join(out), {kind: counts[kind] for kind in TYPES if kind in counts}


def residual_pii(text: str | None, cfg: PiiConfig) -> str | None:
    """For the cleaned-stage gate: the types still found in text that cleaning should have removed
    ("email,credential"), or None. Types set to keep are there on purpose and do not count."""
    if not text:
        return None
    kinds = {kind for _, _, kind in find_pii(text, tuple(cfg.phone_regions)) if getattr(cfg, kind) != "keep"}
    return ",".join(k for k in TYPES if k in kinds) or None


def _drop_detail(found: dict[str, int], hits: list[str]) -> str:
    """The ledger detail, e.g. `2 credential, 1 us_ssn found; clean.pii: credential=drop, us_ssn=drop`:
    types and counts, never a value, since the ledger is read by more people than the data."""
    return ", ".join(f"{found[k]} {k}" for k in hits) + " found; clean.pii: " + ", ".join(f"{k}=drop" for k in hits)


def redact_pii(shard: pl.DataFrame, cfg: PiiConfig) -> StepResult:
    """Redact, keep or drop each type as configured, and annotate each document with a `pii` column:
    the counts found as compact JSON ({"email":2,"phone":1}; "{}" when none), and CHECKED."""
    texts, annotations, reasons, details, checked = [], [], [], [], []
    regions = tuple(cfg.phone_regions)
    totals = dict.fromkeys(TYPES, 0)
    docs_with = dict.fromkeys(TYPES, 0)
    dropping = [kind for kind in DROP_ORDER if getattr(cfg, kind) == "drop"]
    for text in shard["text"]:
        clean, found = redact(text, cfg)
        texts.append(clean)
        annotations.append(json.dumps(found, separators=(",", ":")))
        checked.append(None if found else checked_fingerprint(text, regions))
        for kind, n in found.items():
            totals[kind] += n
            docs_with[kind] += 1
        hits = [kind for kind in dropping if kind in found]
        reasons.append(f"pii_{hits[0]}" if hits else None)
        details.append(_drop_detail(found, hits) if hits else None)

    annotated = shard.with_columns(
        text=pl.Series(texts, dtype=pl.String),
        pii=pl.Series(annotations, dtype=pl.String),
        _pii_reason=pl.Series(reasons, dtype=pl.String),
        _pii_detail=pl.Series(details, dtype=pl.String),
        **{CHECKED: pl.Series(checked, dtype=pl.Binary)},
    )
    counts = {f"found.{k}": v for k, v in totals.items()} | {f"docs_with.{k}": v for k, v in docs_with.items()}
    kept = annotated.filter(pl.col("_pii_reason").is_null()).drop("_pii_reason", "_pii_detail")
    dropped = annotated.filter(pl.col("_pii_reason").is_not_null())
    if not dropped.height:
        return StepResult(kept=kept, counts=counts)
    groups = dropped.group_by("_pii_reason", maintain_order=True)
    ledger = pl.concat([drops(group, reason=reason, detail=pl.col("_pii_detail")) for (reason,), group in groups])
    return StepResult(kept=kept, dropped=ledger, counts=counts)

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
import ipaddress
import json
import re
from collections.abc import Iterator
from functools import cache

import phonenumbers
import polars as pl
from phonenumbers import Leniency, PhoneNumberMatcher
from stdnum import iban as stdnum_iban
from stdnum import luhn

from forge_core.config import PiiConfig
from forge_core.steps import StepResult, drops

TYPES = ("email", "phone", "credit_card", "iban", "us_ssn", "ip_address", "credential")
PLACEHOLDERS = {kind: f"<{kind.upper()}>" for kind in TYPES}
# A document holding several types set to drop is dropped under the most sensitive one.
DROP_ORDER = ("credential", "us_ssn", "credit_card", "iban", "email", "phone", "ip_address")
# Overlap ties (same length) go to the more specific detector.
SPECIFICITY = {"iban": 0, "credit_card": 1, "us_ssn": 2, "email": 3, "ip_address": 4}

Span = tuple[int, int, str]  # start, end, type


def _word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def _starts_word(text: str, i: int) -> bool:
    return i == 0 or not _word_char(text[i - 1])


# Credentials -------------------------------------------------------------------------------------
PRIVATE_KEY_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
PRIVATE_KEY_END = re.compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
# A truncated block (no END line): the header and the base64 or "Header: value" lines right after it.
PRIVATE_KEY_BODY = re.compile(r"(?:(?:\\n|\s)+(?:[A-Za-z-]+: [^\n]{1,80}|[A-Za-z0-9+/=.]{16,}))+")

# (regex, the group that is secret, substrings one of which must be present, look in the lowercased text).
# A whole-token pattern (group 0) must also start a word; for key = value shapes only the value is
# replaced, so the text still says what kind of secret was there.
TOKENS = [
    (
        re.compile(r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b"),  # AWS access key id
        0,
        ("AKIA", "ASIA", "ABIA", "ACCA", "A3T"),
        False,
    ),
    (re.compile(r"gh[pousr]_[A-Za-z0-9]{36,251}\b"), 0, ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), False),
    (re.compile(r"github_pat_[A-Za-z0-9_]{22,255}\b"), 0, ("github_pat_",), False),
    (re.compile(r"xox[abposre]-[A-Za-z0-9-]{10,250}"), 0, ("xox",), False),  # Slack tokens
    (re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/]{20,120}"), 0, ("hooks.slack.com",), False),
    (re.compile(r"[sr]k_(?:live|test)_[A-Za-z0-9]{16,247}\b"), 0, ("k_live_", "k_test_"), False),  # Stripe
    (re.compile(r"AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"), 0, ("AIza",), False),  # Google API key
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), 0, ("eyJ",), False),  # JWT
    (re.compile(r"(?i)bearer\s+([A-Za-z0-9._~+/-]{16,}=*)"), 1, ("bearer",), True),
    (re.compile(r"(?i)authorization[\"']?\s*[:=]\s*[\"']?basic\s+([A-Za-z0-9+/]{8,}={0,2})"), 1, ("basic",), True),
    (
        re.compile(
            r"(?i)aws[ _-]?secret[ _-]?(?:access[ _-]?)?key[\"']?\s{0,3}[:=]?\s{0,3}[\"']?"
            r"([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
        ),
        1,
        ("aws",),
        True,
    ),
    (re.compile(r"://[^\s:/@'\"]{1,64}:([^\s/@'\"]{3,128})@"), 1, ("://",), False),  # scheme://user:pw@host
]
# curl -u user:password, wget --user=...: the password, on a line that runs curl, wget or httpie.
CURL_USER = re.compile(r"(?:-u|--user)[ =][\"']?[^\s:\"'-][^\s:\"']{0,63}:([^\s\"']{3,128})")
CURL_BEFORE = re.compile(r"\b(?:curl|wget|http)\b[^\n]{0,80}$")

# key = value, key: value, "key": "value", KEY=>value. The key's stem is found first, in lowercase,
# and may carry a prefix or suffix (DB_PASSWORD, client_secret, api-key, secret_key_base).
SECRET_STEM = re.compile(r"pass(?:word|wd|phrase)|secret|key|token")
KEY_PREFIX = re.compile(r"api[_-]?$")  # "key" counts as api_key / api-key / apikey only
TOKEN_PREFIX = re.compile(r"(?:api|access|auth|refresh|private|session)[_-]?$")
SECRET_VALUE = re.compile(r"(?i)(?:[_.-][a-z0-9]+){0,3}[\"']?\s{0,3}(?:=>|:=|[:=])\s{0,3}[\"']?([^\s\"'`,;<>]{6,256})")
# Values that name a secret rather than hold one: templates, lookups, masks, paths, URLs, placeholders.
NOT_A_SECRET = re.compile(
    r"^(?:\$|%|\{|\*|/|\./|~/|<)|\{\{|\$\{|[\[(]|^(?:x+|\*+|\.+|-+|_+)$"
    r"|^(?:os|env|process|settings|config|secrets|vault|self|cfg)\.\w"
    r"|^[a-z][a-z0-9+.-]*://"  # a URL; one with a password in it is caught by the URL rule
    r"|^(?:none|null|nil|true|false|required|optional|redacted|hidden|masked|changeme|example|string|"
    r"password|secret|undefined|empty|unset|env|environment|your[_-]\w+)$",
    re.IGNORECASE,
)


def _looks_secret(value: str) -> bool:
    """Worth hiding: letters with digits or symbols (hunter2, Tr0ub4dor&3), or 20+ characters."""
    if len(value) < 6 or NOT_A_SECRET.search(value):
        return False
    kinds = (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )
    return (kinds >= 2 and any(not c.isalpha() for c in value)) or len(value) >= 20


def _assignments(text: str, lowered: str) -> Iterator[tuple[int, int]]:
    # lower() keeps offsets unless a character lowercases to two (İ); then search case-insensitively.
    haystack = lowered if len(lowered) == len(text) else text
    stems = SECRET_STEM if haystack is lowered else re.compile(SECRET_STEM.pattern, re.IGNORECASE)
    for m in stems.finditer(haystack):
        stem = m.group().lower()
        head = haystack[max(0, m.start() - 8) : m.start()].lower()
        if (stem == "key" and not KEY_PREFIX.search(head)) or (stem == "token" and not TOKEN_PREFIX.search(head)):
            continue
        value = SECRET_VALUE.match(text, m.end())
        if value is not None:
            secret = value.group(1).rstrip(".)]}")
            if _looks_secret(secret):
                yield value.start(1), value.start(1) + len(secret)


def _credentials(text: str) -> Iterator[tuple[int, int]]:
    if "PRIVATE KEY" in text:
        ends = [m.end() for m in PRIVATE_KEY_END.finditer(text)]
        for m in PRIVATE_KEY_BEGIN.finditer(text):
            i = bisect.bisect_left(ends, m.end())
            if i < len(ends):
                yield m.start(), ends[i]
            else:
                body = PRIVATE_KEY_BODY.match(text, m.end())
                yield m.start(), body.end() if body else m.end()
    lowered = text.lower()
    for pattern, group, anchors, in_lowered in TOKENS:
        haystack = lowered if in_lowered else text
        if not any(a in haystack for a in anchors):
            continue
        for m in pattern.finditer(text):
            # A value in a key = value shape may be a template or a placeholder (<CREDENTIAL> itself).
            if (_starts_word(text, m.start()) and not group) or (group and not NOT_A_SECRET.search(m.group(group))):
                yield m.span(group)
    if "-u " in text or "--user" in text:
        for m in CURL_USER.finditer(text):
            if CURL_BEFORE.search(text, max(0, m.start() - 100), m.start()) and not NOT_A_SECRET.search(m.group(1)):
                yield m.span(1)
    if "pass" in lowered or "secret" in lowered or "key" in lowered or "token" in lowered:
        yield from _assignments(text, lowered)


# E-mail ------------------------------------------------------------------------------------------
# Found from each "@" outwards; the bounded local part keeps a long base64 blob from costing n².
EMAIL_LOCAL = re.compile(r"[A-Za-z0-9][\w.%+-]{0,63}$")
EMAIL_GLUE = re.compile(r"[\w.%+-]")
URL_USERINFO = re.compile(r"://(?:[^\s/@:]{0,64}:)?$")  # ftp://anonymous@host, postgres://user:pw@host
EMAIL_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.){1,8}[A-Za-z]{2,24}\b")


def _emails(text: str) -> Iterator[tuple[int, int]]:
    at = text.find("@")
    while at != -1:
        domain = EMAIL_DOMAIN.match(text, at + 1)
        local = EMAIL_LOCAL.search(text, max(0, at - 64), at) if domain else None
        # Not the tail of a longer token, nor an SSH remote (git@github.com:org/repo) or a URL's user.
        if (
            local is not None
            and (local.start() == 0 or not EMAIL_GLUE.match(text, local.start() - 1))
            and not (local.group() == "git" and text[domain.end() : domain.end() + 1] == ":")
            and not URL_USERINFO.search(text, max(0, local.start() - 72), local.start())
        ):
            yield local.start(), domain.end()
        at = text.find("@", at + 1)


# Payment cards -----------------------------------------------------------------------------------
# A run of digit groups; the card is looked for in the run's group-aligned windows, so that
# "4111 1111 1111 1111 123" (card, then CVV) still yields the card.
DIGIT_RUN = re.compile(r"\d{1,19}(?:[ -]\d{1,19})*")


def _card_brand_fits(digits: str) -> bool:
    """An issuer's prefix with one of its lengths (Visa, Mastercard, Amex, Discover, Diners, JCB,
    UnionPay, Maestro); a Luhn-valid number outside them is some other kind of identifier."""
    n, head = len(digits), int(digits[:4])
    if digits[0] == "4":
        return n in (13, 16, 19)
    if digits[:2] in ("34", "37"):
        return n == 15
    if 5100 <= head <= 5599 or 2221 <= head <= 2720:
        return n == 16
    if digits[:2] in ("50", "56", "57", "58", "59") or digits[0] == "6":  # Maestro, Discover, UnionPay
        return 13 <= n <= 19
    if 3000 <= head <= 3059 or digits[:2] in ("36", "38", "39"):  # Diners
        return 14 <= n <= 19
    if 3528 <= head <= 3589:  # JCB
        return 16 <= n <= 19
    return False


def _is_card(groups: list[str]) -> bool:
    digits = "".join(groups)
    if not 13 <= len(digits) <= 19:
        return False
    # Printed cards group by 4 (Amex and Diners 4-6-5 / 4-6-4); groups of 1-3 are dates, ISBNs, ids.
    if len(groups) > 1 and any(not 4 <= len(g) <= 6 for g in groups[:-1]):
        return False
    return _card_brand_fits(digits) and luhn.is_valid(digits)


def _cards(text: str) -> Iterator[tuple[int, int]]:
    for m in DIGIT_RUN.finditer(text):
        start, end = m.span()
        if end - start < 13:
            continue
        groups = re.split(r"[ -]", m.group())
        starts = [start]
        for g in groups[:-1]:
            starts.append(starts[-1] + len(g) + 1)
        # A group glued to a word or a decimal point ("$1,299.00 3782 ...") is not part of a card.
        if end < len(text) and _word_char(text[end]):
            groups, starts = groups[:-1], starts[:-1]
        if start and (_word_char(text[start - 1]) or text[start - 1] in ".,"):
            groups, starts = groups[1:], starts[1:]
        i = 0
        while i < len(groups):
            for j in range(min(len(groups), i + 6), i, -1):  # the longest window from group i first
                if _is_card(groups[i:j]):
                    yield starts[i], starts[j - 1] + len(groups[j - 1])
                    i = j - 1
                    break
            i += 1


# IBAN --------------------------------------------------------------------------------------------
IBAN = re.compile(r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")


def _iban_shapes(text: str) -> list[re.Match]:
    """IBAN-shaped strings, valid or not (the phone search skips both kinds)."""
    return [m for m in IBAN.finditer(text) if _starts_word(text, m.start())]


def _ibans(shapes: list[re.Match]) -> Iterator[tuple[int, int]]:
    for m in shapes:
        candidate = m.group()
        if stdnum_iban.is_valid(candidate):
            yield m.span()
        elif " " in candidate:  # the run may have swallowed a following word: "... 0130 00 SEPA"
            for cut in reversed([i for i, c in enumerate(candidate) if c == " "]):
                if stdnum_iban.is_valid(candidate[:cut]):
                    yield m.start(), m.start() + cut
                    break


# US social security numbers ----------------------------------------------------------------------
# Only the written forms AAA-GG-SSSS and AAA GG SSSS: a bare 9-digit run is as often an order
# number, a bank routing number or a ZIP+4 without its dash, and redacting those would cost far more
# training text than the rare unformatted SSN it would catch. The SSA never issues area 000, 666 or
# 900-999 (those are ITINs), group 00 or serial 0000.
US_SSN = re.compile(r"\d{3}([- ])\d\d\1\d{4}")


def _ssns(text: str) -> Iterator[tuple[int, int]]:
    for m in US_SSN.finditer(text):
        start, end = m.span()
        s = m.group()
        if s[:3] in ("000", "666") or s[0] == "9" or s[4:6] == "00" or s[7:] == "0000":
            continue
        before, after = text[max(0, start - 2) : start], text[end : end + 2]
        # Not part of a longer number or identifier: 1234-56-7890, AB123-45-6789, 123 45 6789 0.
        if before[-1:] and (_word_char(before[-1]) or before[-1] == "-" or re.fullmatch(r"\d[ -]", before)):
            continue
        if after[:1] and (_word_char(after[0]) or after[0] == "-" or re.fullmatch(r" \d", after)):
            continue
        yield start, end


# IP addresses ------------------------------------------------------------------------------------
IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
# From the first colon on; the leading hex group (if any) is found by looking back from it.
IPV6_TAIL = re.compile(r":(?:[0-9A-Fa-f]{0,4}:){1,6}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4})(?:%[\w.]{1,16})?")
HEX = frozenset("0123456789abcdefABCDEF")
# A dotted quad right after one of these words is a version ("firmware 2.4.1.0"), not an address.
VERSION_BEFORE = re.compile(
    r"(?i)\b(?:version|ver|v|release|rel|build|rev|revision|firmware|fw|patch|update[ds]?|upgraded?|"
    r"downgraded?|bios|driver|kernel|sdk)[\s:=#.]{0,3}(?:to\s+|from\s+)?$"
)


def _is_reportable_ip(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Private and public addresses name a company's machines, so they are redacted. Loopback and
    unspecified addresses (127.0.0.1, 0.0.0.0, ::1, ::) are the same on every machine and say nothing;
    a netmask (255.255.255.0) is not an address at all."""
    if address.is_loopback or address.is_unspecified:
        return False
    if address.version == 4 and int(address) >> 24 == 255:
        inverted = ~int(address) & 0xFFFFFFFF
        return inverted & (inverted + 1) != 0  # contiguous ones from the top: a mask
    return True


def _ipv4s(text: str) -> Iterator[tuple[int, int]]:
    for m in IPV4.finditer(text):
        start, end = m.span()
        if start and (_word_char(text[start - 1]) or text[start - 1] == "."):
            continue  # part of 1.2.3.4.5 or of an identifier
        if end < len(text) and (_word_char(text[end]) or re.match(r"\.\d", text[end : end + 2])):
            continue
        try:
            address = ipaddress.IPv4Address(m.group())
        except ValueError:
            continue  # 999.1.2.3, 01.02.03.04
        if _is_reportable_ip(address) and not VERSION_BEFORE.search(text, max(0, start - 24), start):
            yield start, end


def _ipv6s(text: str) -> Iterator[tuple[int, int]]:
    for m in IPV6_TAIL.finditer(text):
        start, end = m.span()
        while start > m.start() - 4 and start > 0 and text[start - 1] in HEX:
            start -= 1
        if start and (_word_char(text[start - 1]) or text[start - 1] in ":."):
            continue  # std::vector, a label:value:pair
        if end < len(text) and (_word_char(text[end]) or text[end] == ":"):
            continue
        candidate = text[start:end].split("%")[0]
        # Needs a hex group of 3+ digits: "a::b" and "de:ad" are C++ scopes and labels, not hosts.
        if not re.search(r"[0-9A-Fa-f]{3}", candidate):
            continue
        try:
            address = ipaddress.IPv6Address(candidate)
        except ValueError:
            continue  # 10:22:01, 00:1A:2B:3C:4D:5E
        if _is_reportable_ip(address):
            yield start, end


def _ips(text: str) -> Iterator[tuple[int, int]]:
    if text.count(".") >= 3:
        yield from _ipv4s(text)
    if "::" in text or text.count(":") >= 7:
        yield from _ipv6s(text)


# Phones ------------------------------------------------------------------------------------------
# phonenumbers' matcher is pure Python and costs ~0.1 ms per candidate per region, so it only sees
# short windows around digit runs that could be phones (7+ digits), after the spans other detectors
# claimed and the digit shapes that are never phones (dates, times, ISBNs, IBAN-shaped strings whose
# checksum failed) are masked out: a log line's "2024-03-15 10:22:01" never reaches it. Separators
# are at most three characters and a slash stands alone, so "030 1234 5678 / 030 1234 5679" and a
# table's columns are separate candidates.
PHONE_CANDIDATE = re.compile(r"[+(\d](?:\d|(?:[ ().\-\u00a0\u2010-\u2015]{1,3}|/)(?=[\d(]))*\)?")
NOT_PHONE = re.compile(
    r"\d(?<![\d./]\d)(?:"  # the lookbehind after the first digit keeps the fast scan for a digit
    r"\d{3}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?"  # ISO dates and times
    r"|\d?[./]\d\d?[./](?:19|20)?\d\d"  # 15.03.2024, 3/15/24 (not 06.12.34.56.78, a French phone)
    r"|\d?:\d\d(?::\d\d(?:[.,]\d+)?)?"  # 10:22, 10:22:01.5
    r")(?![./]?\d)"
)
ISBN = re.compile(r"ISBN(?:-1[03])?:?\s?[\dX][\d -]{8,16}[\dX]\b")
PHONE_SPLIT = re.compile(r" (?=\()|\s*/\s*|\s{2,}")  # where a second number starts in a run
YEAR_FIRST = re.compile(r"(?:19|20)\d\d[-/. ]\d")  # 2024-0031-77: an order or case number
# A national number written as one bare run (4155550134) or with a long group (047-2150982231) is as
# likely an account, routing or ticket number: it counts only after a word that announces a phone.
PHONE_WORD = re.compile(
    r"(?i)\b(?:tel\w*|t[ée]l[ée]?\w*|phone|fon|call\w*|mobile?|mob|cell\w*|fax|handy|portable|ruf\w*|"
    r"hotline|line|dial\w*|reach|contact|whatsapp|sms|ph)\b[^\n\d]{0,16}$"
)
WINDOW = 4  # characters of context either side: the matcher checks the neighbours of a number
# phonenumbers rejects numbers in area codes not in service (555.867.5309: 555 is no area code), but
# written in the North American format (area and exchange codes 2-9xx) such a number is a phone to any
# reader, and may be a real one after the next assignment; with US among the regions it is taken on shape.
NANP_SHAPE = re.compile(r"(?:1[ .-])?(?:\([2-9]\d\d\) ?[2-9]\d\d-\d{4}|[2-9]\d\d([.-])[2-9]\d\d\1\d{4})")


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    out, pos = [], 0
    for start, end in sorted(spans):
        if end > pos:
            out += [text[pos : max(pos, start)], "_" * (end - max(pos, start))]
            pos = end
    out.append(text[pos:])
    return "".join(out)


@cache
def _regions(regions: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [r for r in regions if r.upper() not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise ValueError(f"clean.pii.phone_regions: unknown region {unknown} (use ISO 3166 codes such as US, GB, DE)")
    # With no region, numbers in international form (+CC ...) are still found.
    return tuple(r.upper() for r in regions) or ("ZZ",)


def _glued_before(text: str, start: int) -> bool:
    """The tail of an identifier: ORD-4155550134, #2125550147, 0211/9876543."""
    return start > 0 and (text[start - 1].isalnum() or text[start - 1] in "#_/-") and text[start] not in "+("


def _glued_after(text: str, end: int) -> bool:
    """The head of an identifier: 2125550147-A, 4155550134x, 0211/9876543/12."""
    return re.match(r"[-/.]\w|\w", text[end : end + 2]) is not None


def _needs_phone_word(raw: str) -> bool:
    if raw.startswith("+"):
        return False
    groups = re.findall(r"\d+", raw)
    return len(groups) == 1 or max(map(len, groups)) > 8


def _phone_candidates(masked_text: str) -> Iterator[tuple[int, int, list[str]]]:
    """Digit runs that could hold one phone: 7-17 digits in at most 8 groups (+33 (0)6 12 34 56 78 has
    7). A longer run is split where a second number would start ("(415) 555-0134 (212) 555-0147");
    what is still too long is an SVG path, a table of figures or a version list."""
    for m in PHONE_CANDIDATE.finditer(masked_text):
        pieces = [(m.start(), m.end())]
        if len(m.group()) > 24:
            cuts = [c.span() for c in PHONE_SPLIT.finditer(m.group())]
            bounds = [m.start()] + [m.start() + x for c in cuts for x in c] + [m.end()]
            pieces = list(zip(bounds[::2], bounds[1::2], strict=True))
        for start, end in pieces:
            groups = re.findall(r"\d+", masked_text[start:end])
            if 7 <= sum(map(len, groups)) <= 17 and len(groups) <= 8:
                yield start, end, groups


def _phones(text: str, masks: list[tuple[int, int]], regions: tuple[str, ...]) -> Iterator[tuple[int, int]]:
    masks = masks + [m.span() for m in NOT_PHONE.finditer(text)]
    if "ISBN" in text:
        masks += [m.span() for m in ISBN.finditer(text)]
    masked_text = _mask(text, masks)
    for m_start, m_end, groups in _phone_candidates(masked_text):
        candidate = masked_text[m_start:m_end]
        if _glued_before(text, m_start):
            continue
        international = candidate.startswith("+")
        if not international and YEAR_FIRST.match(candidate):
            continue
        if len(groups) == 1 and not international and not PHONE_WORD.search(text, max(0, m_start - 40), m_start):
            continue  # one bare run: see PHONE_WORD
        lo, hi = m_start, m_end  # widened by up to WINDOW characters, but never into another number
        while lo > max(0, m_start - WINDOW) and not masked_text[lo - 1].isdigit():
            lo -= 1
        while hi < min(len(text), m_end + WINDOW) and not masked_text[hi].isdigit():
            hi += 1
        window = masked_text[lo:hi]
        # +CC parses the same in every region and is trusted at Leniency.VALID. A national number is
        # tried in each region at STRICT_GROUPING: its digit groups must be the country's (030 1234
        # 5678 is; 9026.20.4000, a customs code that is also a valid US number, is not).
        leniency = Leniency.VALID if international else Leniency.STRICT_GROUPING
        found: list[tuple[int, int]] = []
        for region in regions[:1] if international else regions:
            for match in PhoneNumberMatcher(window, region, leniency=leniency):
                start, end = lo + match.start, lo + match.end
                if start < m_start or end > m_end or _glued_before(text, start) or _glued_after(text, end):
                    continue
                if _needs_phone_word(match.raw_string) and not PHONE_WORD.search(text, max(0, start - 40), start):
                    continue
                found.append((start, end))
            if (m_start, m_end) in found:
                break  # the whole candidate is one number: the other regions cannot do better
        yield from found
        if not found and "US" in regions and NANP_SHAPE.fullmatch(candidate) and not _glued_after(text, m_end):
            yield m_start, m_end


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


def find_pii(text: str, regions: tuple[str, ...] = ("US", "GB", "DE", "FR")) -> list[Span]:
    """Every PII span in text, non-overlapping, in order: (start, end, type)."""
    claims = _Claims()
    # Credentials first; overlapping credential spans (a secret matched by two rules) merge into one.
    merged: list[list[int]] = []
    for start, end in sorted(_credentials(text)):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        elif end > start:
            merged.append([start, end])
    for start, end in merged:
        claims.add((start, end, "credential"))

    digits = sum(map(text.count, "0123456789"))
    candidates: list[Span] = [(s, e, "email") for s, e in _emails(text)]
    iban_shapes = _iban_shapes(text) if digits >= 2 else []
    if digits >= 2:
        candidates += [(s, e, "iban") for s, e in _ibans(iban_shapes)]
        candidates += [(s, e, "ip_address") for s, e in _ips(text)]
    if digits >= 9:
        candidates += [(s, e, "us_ssn") for s, e in _ssns(text)]
    if digits >= 13:
        candidates += [(s, e, "credit_card") for s, e in _cards(text)]
    for start, end, kind in sorted(candidates, key=lambda c: (c[0] - c[1], SPECIFICITY[c[2]], c[0])):
        if not claims.overlaps(start, end):
            claims.add((start, end, kind))

    if digits >= 7:
        masks = [(s, e) for s, e, _ in claims.spans] + [m.span() for m in iban_shapes]
        phones = _phones(text, masks, _regions(tuple(regions)))
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
    the counts found as compact JSON ({"email":2,"phone":1}; "{}" when none)."""
    texts, annotations, reasons, details = [], [], [], []
    totals = dict.fromkeys(TYPES, 0)
    docs_with = dict.fromkeys(TYPES, 0)
    dropping = [kind for kind in DROP_ORDER if getattr(cfg, kind) == "drop"]
    for text in shard["text"]:
        clean, found = redact(text, cfg)
        texts.append(clean)
        annotations.append(json.dumps(found, separators=(",", ":")))
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
    )
    counts = {f"found.{k}": v for k, v in totals.items()} | {f"docs_with.{k}": v for k, v in docs_with.items()}
    kept = annotated.filter(pl.col("_pii_reason").is_null()).drop("_pii_reason", "_pii_detail")
    dropped = annotated.filter(pl.col("_pii_reason").is_not_null())
    if not dropped.height:
        return StepResult(kept=kept, counts=counts)
    groups = dropped.group_by("_pii_reason", maintain_order=True)
    ledger = pl.concat([drops(group, reason=reason, detail=pl.col("_pii_detail")) for (reason,), group in groups])
    return StepResult(kept=kept, dropped=ledger, counts=counts)

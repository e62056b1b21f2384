"""Secrets: keys, tokens, private key blocks and password assignments, found by shape and context."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator

from forge_core.clean.pii.spans import starts_word

# Credentials -------------------------------------------------------------------------------------
PRIVATE_KEY_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
PRIVATE_KEY_END = re.compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
# A truncated block (no END line): the header and the base64 or "Header: value" lines right after it.
# Not started inside a run of blanks, and the blanks taken whole (neither body line starts with one):
# otherwise each position of a long blank run is a new start that scans the run again (n^2).
PRIVATE_KEY_BODY = re.compile(r"(?<!\s)(?<!\\n)(?:(?:\\n|\s)++(?:[A-Za-z-]+: [^\n]{1,80}|[A-Za-z0-9+/=.]{16,}))+")

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
    # JWT; its header and payload bounded (real ones are far shorter), so a run of "eyJ-eyJ-..." is not n^2.
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,1024}\.eyJ[A-Za-z0-9_-]{5,16384}\.[A-Za-z0-9_-]*"), 0, ("eyJ",), False),
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


def find_credentials(text: str) -> Iterator[tuple[int, int]]:
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
            if (starts_word(text, m.start()) and not group) or (group and not NOT_A_SECRET.search(m.group(group))):
                yield m.span(group)
    if "-u " in text or "--user" in text:
        for m in CURL_USER.finditer(text):
            if CURL_BEFORE.search(text, max(0, m.start() - 100), m.start()) and not NOT_A_SECRET.search(m.group(1)):
                yield m.span(1)
    if "pass" in lowered or "secret" in lowered or "key" in lowered or "token" in lowered:
        yield from _assignments(text, lowered)

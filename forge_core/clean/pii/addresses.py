"""E-mail and IP addresses: found from their separators outwards and validated (ipaddress)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from forge_core.clean.pii.spans import word_char

# E-mail ------------------------------------------------------------------------------------------
# Found from each "@" outwards; the bounded local part keeps a long base64 blob from costing n².
EMAIL_LOCAL = re.compile(r"[A-Za-z0-9][\w.%+-]{0,63}$")
EMAIL_GLUE = re.compile(r"[\w.%+-]")
URL_USERINFO = re.compile(r"://(?:[^\s/@:]{0,64}:)?$")  # ftp://anonymous@host, postgres://user:pw@host
EMAIL_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.){1,8}[A-Za-z]{2,24}\b")


def find_emails(text: str) -> Iterator[tuple[int, int]]:
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
        if start and (word_char(text[start - 1]) or text[start - 1] == "."):
            continue  # part of 1.2.3.4.5 or of an identifier
        if end < len(text) and (word_char(text[end]) or re.match(r"\.\d", text[end : end + 2])):
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
        if start and (word_char(text[start - 1]) or text[start - 1] in ":."):
            continue  # std::vector, a label:value:pair
        if end < len(text) and (word_char(text[end]) or text[end] == ":"):
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


def find_ips(text: str) -> Iterator[tuple[int, int]]:
    if text.count(".") >= 3:
        yield from _ipv4s(text)
    if "::" in text or text.count(":") >= 7:
        yield from _ipv6s(text)

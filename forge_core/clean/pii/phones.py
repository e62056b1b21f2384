"""Phone numbers: phonenumbers' matcher on short windows around digit runs that could be phones."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher

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
def checked_regions(regions: tuple[str, ...]) -> tuple[str, ...]:
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


def find_phones(text: str, masks: list[tuple[int, int]], regions: tuple[str, ...]) -> Iterator[tuple[int, int]]:
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

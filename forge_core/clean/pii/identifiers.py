"""Payment cards (brand prefix and Luhn), IBANs (mod-97) and US social security numbers (SSA rules)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from stdnum import iban as stdnum_iban
from stdnum import luhn

from forge_core.clean.pii.spans import starts_word, word_char

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


def find_cards(text: str) -> Iterator[tuple[int, int]]:
    for m in DIGIT_RUN.finditer(text):
        start, end = m.span()
        if end - start < 13:
            continue
        groups = re.split(r"[ -]", m.group())
        starts = [start]
        for g in groups[:-1]:
            starts.append(starts[-1] + len(g) + 1)
        # A group glued to a word or a decimal point ("$1,299.00 3782 ...") is not part of a card.
        if end < len(text) and word_char(text[end]):
            groups, starts = groups[:-1], starts[:-1]
        if start and (word_char(text[start - 1]) or text[start - 1] in ".,"):
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


def find_iban_shapes(text: str) -> list[re.Match]:
    """IBAN-shaped strings, valid or not (the phone search skips both kinds)."""
    return [m for m in IBAN.finditer(text) if starts_word(text, m.start())]


def find_ibans(shapes: list[re.Match]) -> Iterator[tuple[int, int]]:
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


def find_ssns(text: str) -> Iterator[tuple[int, int]]:
    for m in US_SSN.finditer(text):
        start, end = m.span()
        s = m.group()
        if s[:3] in ("000", "666") or s[0] == "9" or s[4:6] == "00" or s[7:] == "0000":
            continue
        before, after = text[max(0, start - 2) : start], text[end : end + 2]
        # Not part of a longer number or identifier: 1234-56-7890, AB123-45-6789, 123 45 6789 0.
        if before[-1:] and (word_char(before[-1]) or before[-1] == "-" or re.fullmatch(r"\d[ -]", before)):
            continue
        if after[:1] and (word_char(after[0]) or after[0] == "-" or re.fullmatch(r" \d", after)):
            continue
        yield start, end

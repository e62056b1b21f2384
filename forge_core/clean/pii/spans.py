"""What every detector shares: a span is (start, end, type), and where a word begins."""

from __future__ import annotations

Span = tuple[int, int, str]  # start, end, type


def word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def starts_word(text: str, i: int) -> bool:
    return i == 0 or not word_char(text[i - 1])

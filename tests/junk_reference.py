"""The junk rules' measures as they were written before they were made faster (letter by letter,
line by line, every condition in its first order): the oracle that tests/test_clean_speed.py holds
the faster ones to. Patterns and thresholds are the rules' own, imported; only the loops are here."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from forge_core.clean.junk.boilerplate import CHROME, CRUMB, LEGAL, SENTENCE_END, BoilerplateConfig, menu_line
from forge_core.clean.junk.gibberish import SPELLING, VOWELS, WHOLE_WORD, WORD, GibberishConfig
from forge_core.clean.junk.mojibake import BOX, SCRIPTS, TOKEN

ALPHABETIC = re.compile(r"[a-zA-Z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]")
LETTER = re.compile(r"[^\W\d_]")


# boilerplate ----------------------------------------------------------------------------------
def chrome_share(text: str, max_words: int) -> float:
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return 0.0
    chrome = sum(
        menu_line(line)
        or bool(CRUMB.search(line) or LEGAL.search(line))
        or (len(line.split()) <= max_words and bool(CHROME.search(line)))
        for line in lines
    )
    return chrome / len(lines)


def prose_share(text: str, words: int) -> float:
    lines = [line for line in text.split("\n") if line.strip()]
    chars = sum(map(len, lines))
    prose = sum(len(line) for line in lines if len(line.split()) >= words and not LEGAL.search(line))
    return prose / chars if chars else 0.0


def link_list(text: str, cfg: BoilerplateConfig) -> bool:
    lines = [line for line in text.split("\n") if line.strip()]
    letters = len(LETTER.findall(text))
    if len(lines) < cfg.min_list_lines or not letters or len(ALPHABETIC.findall(text)) / letters < 0.5:
        return False
    links = sum(
        len(line.split()) <= cfg.max_link_words and not SENTENCE_END.search(line) and not line[:1].isspace()
        for line in lines
    )
    return links / len(lines) >= cfg.min_link_share and prose_share(text, cfg.prose_words) < cfg.max_list_prose_share


def boilerplate(text: str, cfg: BoilerplateConfig) -> bool:
    chrome = (
        chrome_share(text, cfg.max_line_words) > cfg.max_chrome_share
        and prose_share(text, cfg.prose_words) < cfg.min_prose_share
    )
    return chrome or link_list(text, cfg)


# gibberish ------------------------------------------------------------------------------------
def _odd(word: str, run: int) -> bool:
    streak = 0
    has_vowel = False
    for c in word.lower():
        if c in VOWELS:
            has_vowel = True
            streak = 0
        else:
            streak += 1
            if streak >= run:
                return True
    return not has_vowel


def odd_share(text: str, run: int) -> tuple[int, float]:
    words = WORD.findall(text)
    return len(words), (sum(_odd(w, run) for w in words) / len(words) if words else 0.0)


def alternation(text: str) -> tuple[int, float]:
    n = [[0, 0], [0, 0]]
    for word in WHOLE_WORD.findall(text.lower()):
        vowel = [c in VOWELS for c in word]
        for a, b in zip(vowel, vowel[1:], strict=False):
            n[a][b] += 1
    pairs = n[0][0] + n[0][1] + n[1][0] + n[1][1]
    spread = (n[0][0] + n[0][1]) * (n[1][0] + n[1][1]) * (n[0][0] + n[1][0]) * (n[0][1] + n[1][1])
    if not spread:
        return pairs, 0.0
    return pairs, -(n[0][0] * n[1][1] - n[0][1] * n[1][0]) / spread**0.5


def anagram_share(text: str) -> float:
    counts = Counter(w.lower() for w in SPELLING.findall(text))
    total = sum(counts.values())
    if total < 10:
        return 0.0
    spellings: dict[str, set[str]] = defaultdict(set)
    for word in counts:
        spellings["".join(sorted(word))].add(word)
    return sum(n for word, n in counts.items() if len(spellings["".join(sorted(word))]) > 1) / total


def gibberish(text: str, cfg: GibberishConfig) -> bool:
    letters = len(LETTER.findall(text))
    if not letters or len(ALPHABETIC.findall(text)) / letters < cfg.min_alphabetic_share:
        return False
    n, odd = odd_share(text, cfg.consonant_run)
    if (n >= cfg.min_words and odd > cfg.max_odd_share) or anagram_share(text) > cfg.max_anagram_share:
        return True
    pairs, alternating = alternation(text)
    return pairs >= cfg.min_letter_pairs and alternating < cfg.min_alternation


# mojibake -------------------------------------------------------------------------------------
def mixed_words(text: str) -> int:
    n = 0
    for token in TOKEN.findall(text):
        scripts = sum(bool(script.search(token)) for script in SCRIPTS)
        if scripts >= 2 or BOX.search(token):
            n += 1
    return n


def marks_per_1000(text: str) -> float:
    from ftfy.badness import badness

    return 1000.0 * (badness(text) + mixed_words(text) + text.count("\ufffd")) / len(text) if text else 0.0

"""Boilerplate-only pages: navigation, cookie banners, sign-in prompts and legal footers with no
content of their own, and pages that are nothing but a list of links (a table of contents, a
sidebar of function names). HTML extraction already removes these around a page's main content;
this rule catches the pages (and exports) where nothing else was left."""

from __future__ import annotations

import re

import polars as pl
from pydantic import Field

from forge_core.clean.junk.letters import alphabetic, letters
from forge_core.section import Section
from forge_core.steps import StepResult, apply_rules

REASONS = {"boilerplate_only": "nothing but navigation, cookie, sign-in and legal lines"}

# Phrases of site chrome in the languages of data_samples and the common European ones.
# Whole words only, never inside a name or path: "login1", "$HOME/.config" and "introspect" are not chrome.
CHROME = re.compile(
    r"(?<![\w$/.-])(?:"
    r"cookies?|privacy|terms of (?:use|service)|all rights reserved|copyright \d{4}|skip to"
    r"|sign (?:in|up)|log ?in|log ?out|subscribe|newsletter|follow us|contact us|about us|sitemap|site map"
    r"|imprint|impressum|datenschutz|nutzungsbedingungen|mentions légales|politique de confidentialité"
    r"|aviso legal|política de privacidad|accept all|back to top|powered by|created using|last updated on"
    r"|found a bug|home|menu|search"
    r"|navigation|table of contents|previous (?:topic|page|chapter)|next (?:topic|page|chapter)|report a bug"
    r"|show source|edit (?:this|on)|this page"
    r")(?![\w/.-])|©|\(c\) ?\d{4}|^\s*(?:index|modules|next|previous|up|top)\s*$",
    re.I,
)
SENTENCE_END = re.compile(r"[.!?:;,=]\s*$")
# A footer's legal sentences are chrome however long they are, and never the page's prose.
LEGAL = re.compile(
    r"all rights reserved|©|\(c\) ?\d{4}|copyright (?:\d{4}|by|holder)|(?:is|are) (?:additionally )?licensed under"
    r"|registered trademark|non-profit (?:corporation|organi[sz]ation)|please donate",
    re.I,
)
CRUMB = re.compile(r"[|»›]\s*$|^\s*[|«‹]")  # a breadcrumb or menu fragment: ends in a separator
# Menu separators; a slash only between blanks ("Home / Docs"), never inside a path (/etc/passwd).
NOT_ITEM = re.compile(r"[/()=]")  # a menu holds names, not paths or expressions: index.(bt|db|dir|pag)
SEPARATOR = re.compile(r"[|•·»]|(?<=\s)/(?=\s)")  # no blanks in the pattern: it stays linear on a line of blanks


def menu_line(line: str) -> bool:
    """Home | Products | Contact: two or more separators between short items."""
    items = [item.strip() for item in SEPARATOR.split(line.strip())]
    return len(items) >= 3 and bool(items[0]) and all(len(item) <= 30 and not NOT_ITEM.search(item) for item in items)


class BoilerplateConfig(Section):
    """Boilerplate-only pages: site chrome (navigation, cookies, sign-in, legal footers) and
    nothing else, or a page of links."""

    NUMBERS = (
        "max_chrome_share 0.25, min_prose_share 0.3, min_link_share 0.85, max_list_prose_share 0.15: labelled set "
        "(in the field descriptions). max_line_words 12, prose_words 10, min_list_lines 12, max_link_words 5: "
        "choices (a menu entry or link is a few words; a sentence is ten or more)."
    )

    enabled: bool | None = Field(default=None, description="true or false; empty: as clean.profile says.")
    max_line_words: int = Field(
        default=12, ge=1, description="A chrome line is short: a longer line with a chrome phrase is content."
    )
    max_chrome_share: float = Field(
        default=0.25,
        ge=0.0,
        le=1.0,
        description="Share of non-empty lines that are chrome, at most, in a page without prose (labelled set: "
        "boilerplate pages 0.6 median; genuine documents 0 median).",
    )
    prose_words: int = Field(default=10, ge=1, description="A line of this many words or more is prose.")
    min_prose_share: float = Field(
        default=0.3,
        ge=0.0,
        le=1.0,
        description="A page with at least this share of its characters in prose lines is content, however much "
        "chrome surrounds it.",
    )
    min_list_lines: int = Field(default=12, ge=1, description="A page of links needs at least this many lines.")
    max_link_words: int = Field(
        default=5, ge=1, description="A link line: this many words or fewer, no end punctuation."
    )
    min_link_share: float = Field(
        default=0.85,
        ge=0.0,
        le=1.0,
        description="Share of lines that are link lines, at least, in a page with almost no prose (below): a "
        "page of links (labelled set: 18 of 44 boilerplate pages, no genuine document).",
    )
    max_list_prose_share: float = Field(
        default=0.15, ge=0.0, le=1.0, description="A page of links has less than this share of prose characters."
    )


def content_lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]


def chrome_share(lines: list[str], max_words: int) -> float:
    if not lines:
        return 0.0
    chrome = sum(
        menu_line(line)
        or bool(CRUMB.search(line) or LEGAL.search(line))
        or (len(line.split()) <= max_words and bool(CHROME.search(line)))
        for line in lines
    )
    return chrome / len(lines)


def prose_share(lines: list[str], words: int) -> float:
    chars = sum(map(len, lines))
    prose = sum(len(line) for line in lines if len(line.split()) >= words and not LEGAL.search(line))
    return prose / chars if chars else 0.0


def link_list(text: str, lines: list[str], prose: float, cfg: BoilerplateConfig) -> bool:
    """A page of short unpunctuated lines in an alphabetic script (in Han or kana text a line of
    one "word" is a sentence), with next to no prose. The cheap conditions are looked at first."""
    if len(lines) < cfg.min_list_lines or prose >= cfg.max_list_prose_share:
        return False
    links = sum(
        len(line.split()) <= cfg.max_link_words and not SENTENCE_END.search(line) and not line[:1].isspace()
        for line in lines
    )
    if links / len(lines) < cfg.min_link_share:
        return False
    n_letters = letters(text)
    return bool(n_letters) and alphabetic(text) / n_letters >= 0.5


def boilerplate(text: str, cfg: BoilerplateConfig) -> bool:
    """Chrome without prose, or a page of links. The share of prose decides most documents (genuine
    ones are mostly prose), so it is measured first and once; chrome lines only when it is low."""
    lines = content_lines(text)
    prose = prose_share(lines, cfg.prose_words)
    if prose < cfg.min_prose_share and chrome_share(lines, cfg.max_line_words) > cfg.max_chrome_share:
        return True
    return link_list(text, lines, prose, cfg)


def boilerplate_filter(shard: pl.DataFrame, cfg: BoilerplateConfig) -> StepResult:
    if shard.is_empty():
        return StepResult(kept=shard)
    fails = pl.Series([boilerplate(t, cfg) for t in shard["text"]])
    detail = (
        f"chrome lines > clean.boilerplate.max_chrome_share = {cfg.max_chrome_share} and prose < "
        f"clean.boilerplate.min_prose_share = {cfg.min_prose_share}, or a page of links"
    )
    return apply_rules(shard, [("boilerplate_only", fails, detail)])

"""Boilerplate-only pages: navigation, cookie banners, sign-in prompts and legal footers with no
content of their own. HTML extraction already removes these around a page's main content; this
rule catches the pages (and exports) where nothing else was left."""

from __future__ import annotations

import re

import polars as pl
from pydantic import Field

from forge_core.section import Section
from forge_core.steps import StepResult, apply_rules

REASONS = {"boilerplate_only": "nothing but navigation, cookie, sign-in and legal lines"}

# Phrases of site chrome in the languages of data_samples and the common European ones.
CHROME = re.compile(
    r"cookie|privacy|terms of (?:use|service)|all rights reserved|©|\(c\) ?\d{4}|copyright|skip to"
    r"|sign (?:in|up)|log ?in|log ?out|subscribe|newsletter|follow us|contact us|about us|sitemap|site map"
    r"|imprint|impressum|datenschutz|nutzungsbedingungen|mentions légales|politique de confidentialité"
    r"|aviso legal|política de privacidad|accept all|back to top|powered by|home\b|menu\b|search\b"
    r"|navigation|table of contents|previous (?:topic|page|chapter)|next (?:topic|page|chapter)|report a bug"
    r"|show source|edit (?:this|on) |this page|^\s*(?:index|modules|next|previous|up|top)\s*$",
    re.I,
)
CRUMB = re.compile(r"[|»›]\s*$|^\s*[|«‹]")  # a breadcrumb or menu fragment: ends in a separator
MENU = re.compile(r"^\s*(?:[^|•·»/]{1,30}[|•·»/]){2,}[^|•·»/]{0,30}$")  # Home | Products | Contact


class BoilerplateConfig(Section):
    """Boilerplate-only pages: site chrome (navigation, cookies, sign-in, legal) and nothing else."""

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


def chrome_share(text: str, max_words: int) -> float:
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return 0.0
    chrome = sum(
        bool(MENU.match(line) or CRUMB.search(line)) or (len(line.split()) <= max_words and bool(CHROME.search(line)))
        for line in lines
    )
    return chrome / len(lines)


def prose_share(text: str, words: int) -> float:
    lines = [line for line in text.split("\n") if line.strip()]
    chars = sum(map(len, lines))
    return sum(len(line) for line in lines if len(line.split()) >= words) / chars if chars else 0.0


def boilerplate(text: str, cfg: BoilerplateConfig) -> bool:
    return (
        chrome_share(text, cfg.max_line_words) > cfg.max_chrome_share
        and prose_share(text, cfg.prose_words) < cfg.min_prose_share
    )


def boilerplate_filter(shard: pl.DataFrame, cfg: BoilerplateConfig) -> StepResult:
    if shard.is_empty():
        return StepResult(kept=shard)
    fails = pl.Series([boilerplate(t, cfg) for t in shard["text"]])
    detail = (
        f"chrome lines > clean.boilerplate.max_chrome_share = {cfg.max_chrome_share} and prose < "
        f"clean.boilerplate.min_prose_share = {cfg.min_prose_share}"
    )
    return apply_rules(shard, [("boilerplate_only", fails, detail)])

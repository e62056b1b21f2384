"""HTML to text: the main content of a page (trafilatura), without navigation, headers, footers
and sidebars; BeautifulSoup for fragments in which trafilatura finds no main content.

A page nested deeper than ingest.limits.html_max_depth is quarantined (html_too_deep), not
flattened: lxml, which trafilatura parses with, drops everything below depth 256 without a word,
and no page a person wrote nests that deep (generated or hostile markup does). The fallback walks
its tree in one explicit loop, linear in the page, so no nesting reaches Python's recursion limit;
the walk over trafilatura's XML recurses, but lxml never builds that tree deeper than 256.
"""

from __future__ import annotations

import codecs
import logging
import re
from functools import cache

from forge_core.readers.extracted import Record, Unreadable

logging.getLogger("trafilatura").setLevel(logging.ERROR)


def read_html(data: bytes, tables: bool = True, max_depth: int | None = None) -> list[Record]:
    """The page's main content; NUL bytes mean a binary file, unless a UTF-16 BOM explains them."""
    if b"\x00" in data[:4096] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise Unreadable("binary_content", "NUL bytes in an HTML file")
    return [Record(html_to_text(data, tables=tables, max_depth=max_depth))]


def check_depth(markup: str | bytes, max_depth: int) -> None:
    """Unreadable(html_too_deep) when elements nest deeper than max_depth; one streaming pass of lxml.

    huge_tree lifts libxml2's own cut at depth 256 (to 2048), so the depth is seen past it.
    """
    from lxml import etree

    parser = etree.HTMLPullParser(events=("start", "end"), huge_tree=True)
    depth = 0
    step = 1 << 16
    for i in range(0, max(len(markup), 1), step):
        parser.feed(markup[i : i + step])
        for event, element in parser.read_events():
            if event == "end":
                depth -= 1
                element.clear()  # only the depth is wanted: the tree is not kept
                continue
            depth += 1
            if depth > max_depth:
                raise Unreadable(
                    "html_too_deep", f"elements nest deeper than ingest.limits.html_max_depth = {max_depth}"
                )


def html_to_text(markup: str | bytes, *, tables: bool = True, max_depth: int | None = None) -> str:
    """The page's main content without its chrome (navigation, header, footer, sidebars, scripts).

    trafilatura finds the main content by its text density and structure, which works on pages that
    do not mark their chrome with <nav>/<header>/<footer> (Sphinx, wikis, CMS exports). It finds
    nothing in fragments and some tiny pages; those fall back to the tag-based extraction. Headings,
    paragraphs, list items and code blocks are separated by blank lines; a table row is one line.
    max_depth: see check_depth (None: not checked).
    """
    if max_depth is not None:
        check_depth(markup, max_depth)
    try:
        text = trafilatura_text(markup, tables)
    except Exception:  # a heuristic that fails on a page; the tags still tell what its content is
        text = ""
    return text or soup_text(markup, tables)


@cache
def _trafilatura_config():
    from trafilatura.settings import use_config

    config = use_config()
    # Below MIN_EXTRACTED_SIZE characters trafilatura gives up on its extraction and returns the
    # text of the whole <body>, chrome included; a short page's own text is better than that.
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "0")
    return config


def trafilatura_text(markup: str | bytes, tables: bool = True) -> str:
    """trafilatura's main content as text, or "" when it finds none.

    Its XML output is rendered here because its plain-text output drops the paragraph breaks.
    Neither favor_precision (loses the <h1> of 189 of the 459 Python docs pages) nor favor_recall
    (keeps the sidebar of some) is set. No URL is given, so nothing is fetched.
    """
    import trafilatura
    from lxml import etree

    xml = trafilatura.extract(
        markup,
        output_format="xml",
        include_tables=tables,
        include_comments=False,
        include_images=False,
        include_links=False,
        include_formatting=False,
        deduplicate=False,
        with_metadata=False,
        config=_trafilatura_config(),
    )
    if not xml:
        return ""
    main = etree.fromstring(xml.encode()).find("main")
    return "" if main is None else "\n\n".join(_xml_blocks(main))


# The elements of trafilatura's XML that start a new paragraph; everything else is inline.
XML_BLOCKS = {"head", "p", "list", "item", "table", "row", "cell", "code", "quote"}


def _xml_blocks(element) -> list[str]:
    """The paragraphs under an element of trafilatura's XML, in order; loose text is one too."""
    blocks: list[str] = []
    loose: list[str] = [_squash(element.text)]
    for child in element:
        if child.tag in XML_BLOCKS and not _is_inline_code(child, element):
            blocks.extend(_tidy(loose))
            blocks.extend(_xml_block(child))
            loose = []
        else:
            loose.append(_xml_inline(child))
        loose.append(_squash(child.tail))
    blocks.extend(_tidy(loose))
    return blocks


def _xml_block(element) -> list[str]:
    if element.tag == "code":
        return [code] if (code := "".join(element.itertext()).strip("\n")) else []
    if element.tag == "head":
        return _tidy([_xml_inline(element)])
    if element.tag == "table":
        return [table] if (table := "\n".join(filter(None, map(_xml_row, element.iterchildren("row"))))) else []
    if element.tag == "list":
        return _xml_list(element)
    return _xml_blocks(element)


def _xml_list(element) -> list[str]:
    """Items one per line, a nested list indented under its item; an item of paragraphs stays paragraphs."""
    bullet = "" if element.get("rend") == "dl" else "- "
    blocks: list[str] = []
    run: list[str] = []
    for item in element.iterchildren("item"):
        parts = _xml_blocks(item)
        if len(parts) > 1 and any(child.tag in ("p", "code", "table", "quote") for child in item):
            if run:
                blocks.append("\n".join(run))
                run = []
            blocks.extend([bullet + parts[0], *parts[1:]])
        elif parts:
            run.append(bullet + "\n".join(parts).replace("\n", "\n  "))
    if run:
        blocks.append("\n".join(run))
    return blocks


def _xml_row(row) -> str:
    cells = [" ".join(_xml_blocks(cell)).replace("\n", " ") for cell in row.iterchildren("cell")]
    return " | ".join(cells) if any(cells) else ""


def _is_inline_code(element, parent) -> bool:
    return element.tag == "code" and parent.tag in ("p", "head", "cell") and "\n" not in (element.text or "")


def _xml_inline(element) -> str:
    if element.tag == "lb":
        return "\n"
    parts = [_squash(element.text)]
    for child in element:
        parts.append(_xml_inline(child))
        parts.append(_squash(child.tail))
    return "".join(parts)


def _squash(text: str | None) -> str:
    """HTML whitespace: any run of it is one space (the source's line wrapping is not a line break)."""
    return re.sub(r"\s+", " ", text) if text else ""


def _tidy(pieces: list[str]) -> list[str]:
    """One paragraph from inline pieces, or none; without the permalink sign (¶) that Sphinx and other
    generators put after headings and API names."""
    lines = re.sub(r" {2,}", " ", "".join(pieces)).split("\n")  # split, not re.sub(" *\n *"): linear
    text = "\n".join(line.strip(" ") for line in lines).strip().removesuffix("¶").rstrip()
    return [text] if text else []


CHROME_TAGS = ["script", "style", "noscript", "template", "svg", "nav", "header", "footer", "aside", "form"]
BLOCK_TAGS = [
    "p", "div", "section", "article", "main", "li", "ul", "ol", "table", "tr", "pre", "blockquote",
    "h1", "h2", "h3", "h4", "h5", "h6", "dl", "dt", "dd", "figure", "figcaption", "hr",
]  # fmt: skip


def soup_text(markup: str | bytes, tables: bool = True) -> str:
    """The content by its tags: without the chrome elements, from <main>, <article> or <body>.

    Block elements become line breaks, inline ones do not, so sentences stay whole; a table cell is
    followed by " | ". One walk with an explicit stack writes the text out (inserting the breaks into
    the tree instead walked it once per insertion: quadratic in the page).
    """
    from bs4 import BeautifulSoup, CData, NavigableString

    soup = BeautifulSoup(markup, "lxml")
    for tag in soup(CHROME_TAGS if tables else [*CHROME_TAGS, "table"]):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    blocks = set(BLOCK_TAGS)
    out: list[str] = []
    stack: list = list(reversed(root.contents))  # nodes to visit, and the text that ends an element
    while stack:
        node = stack.pop()
        if type(node) is str:  # an end marker pushed below (bs4's strings are NavigableString)
            out.append(node)
        elif isinstance(node, NavigableString):
            if type(node) in (NavigableString, CData):  # what get_text() takes: no comments, no doctype
                out.append(node)
        elif node.name == "br":
            out.append("\n")
        else:
            if node.name in blocks:
                out.append("\n")
            end = "\n" if node.name in blocks else ""
            if node.name in ("td", "th"):
                end += " | "
            if end:
                stack.append(end)
            stack.extend(reversed(node.contents))
    return "".join(out).strip()

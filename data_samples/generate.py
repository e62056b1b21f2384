#!/usr/bin/env python3
"""Rebuild data_samples/corpus/ (and README.md) deterministically from data_samples/src/.

Usage:  python3 data_samples/generate.py

Needs: fpdf2, python-docx, pyarrow, beautifulsoup4, pypdf (no torch, no network).
Running it twice produces byte-identical output.

Source format (src/*.txt): documents separated by lines "@@@ <key>", followed by
"name: value" metadata lines, a "---" line and the body.  Bodies use a small
markdown subset (#/##/### headings, "- " and "1. " lists, "| a | b |" tables,
blank-line separated paragraphs) that is rendered to each target format.
Planted duplicates, near duplicates, junk and corrupt files are defined in this
script (see EXACT_COPIES, NEAR_COPIES, write_junk, write_corrupt).
"""
from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import random
import re
import shutil
import sys
import textwrap
import zipfile
from datetime import datetime, timezone
from email.header import Header
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
CORPUS = HERE / "corpus"
sys.path.insert(0, str(HERE))
sys.dont_write_bytecode = True  # keep data_samples/ free of __pycache__
import check  # noqa: E402  (shared extraction / similarity code)
import logging  # noqa: E402

logging.getLogger("pypdf").setLevel(logging.CRITICAL)

FIXED_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


# ==========================================================================
# Synthetic images (logo, product photos, drawings) - no text content
# ==========================================================================
def make_logo() -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (360, 90), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.polygon([(10, 80), (45, 10), (80, 80)], fill=(11, 61, 92))
    d.polygon([(40, 80), (62, 36), (84, 80)], fill=(0, 150, 199))
    for i, x in enumerate(range(100, 340, 12)):
        d.rectangle([x, 35, x + 7, 35 + (i * 7) % 30 + 15], fill=(11, 61, 92))
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def make_photo(seed: int, w: int = 1100, h: int = 760) -> bytes:
    """Photo-like JPEG of a 'product on a bench': gradients, shapes and sensor noise."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(seed)
    img = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    base = Image.new("RGB", (w, h), (rng.randrange(150, 210), rng.randrange(150, 210), rng.randrange(160, 220)))
    img = Image.blend(img, base, 0.6)
    d = ImageDraw.Draw(img)
    cx, cy = w // 2 + rng.randrange(-80, 80), h // 2 + rng.randrange(-40, 40)
    d.rectangle([cx - 260, cy - 140, cx + 260, cy + 150], fill=(120, 124, 130))
    d.ellipse([cx - 180, cy - 300, cx + 180, cy + 60], fill=(172, 176, 182), outline=(60, 60, 60), width=6)
    d.ellipse([cx - 110, cy - 230, cx + 110, cy - 10], fill=(30, 34, 40))
    d.rectangle([cx - 40, cy + 150, cx + 40, cy + 330], fill=(190, 192, 196))
    for _ in range(40):
        x, y = rng.randrange(w), rng.randrange(h)
        r = rng.randrange(4, 40)
        c = tuple(rng.randrange(60, 230) for _ in range(3))
        d.ellipse([x - r, y - r, x + r, y + r], outline=c, width=2)
    img = img.filter(ImageFilter.GaussianBlur(1.2))
    noise = Image.effect_noise((w, h), 22).convert("RGB")
    img = Image.blend(img, noise, 0.12)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=88)
    return buf.getvalue()


def make_drawing(seed: int, w: int = 1400, h: int = 900) -> bytes:
    """Dimensional line drawing (PNG)."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    img = Image.new("L", (w, h), 255)
    d = ImageDraw.Draw(img)
    for x in range(0, w, 50):
        d.line([(x, 0), (x, h)], fill=235)
    for y in range(0, h, 50):
        d.line([(0, y), (w, y)], fill=235)
    x0, body_w = 300 + rng.randrange(0, 100), 260
    d.rectangle([x0, 150, x0 + body_w, 520], outline=0, width=4)
    d.rectangle([x0 + 90, 520, x0 + body_w - 90, 820], outline=0, width=4)
    d.ellipse([x0 + 30, 190, x0 + body_w - 30, 400], outline=0, width=3)
    for y in (150, 520, 820):
        d.line([(x0 + body_w + 40, y), (x0 + body_w + 160, y)], fill=0, width=2)
    d.line([(x0 + body_w + 120, 150), (x0 + body_w + 120, 820)], fill=0, width=2)
    x1 = x0 + 650
    d.ellipse([x1, 200, x1 + 380, 580], outline=0, width=4)
    d.ellipse([x1 + 120, 320, x1 + 260, 460], outline=0, width=3)
    for a in range(6):
        px = x1 + 190 + int(160 * [1, 0.5, -0.5, -1, -0.5, 0.5][a])
        py = 390 + int(160 * [0, 0.87, 0.87, 0, -0.87, -0.87][a])
        d.ellipse([px - 12, py - 12, px + 12, py + 12], outline=0, width=2)
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


_IMAGE_CACHE: dict[str, bytes] = {}


def image(name: str) -> bytes:
    if name not in _IMAGE_CACHE:
        kind, _, seed = name.partition(":")
        _IMAGE_CACHE[name] = {"logo": lambda s: make_logo(), "photo": lambda s: make_photo(int(s)),
                              "drawing": lambda s: make_drawing(int(s))}[kind](seed)
    return _IMAGE_CACHE[name]


# ==========================================================================
# Source parsing
# ==========================================================================
def parse_src(name: str):
    """Return a dict key -> (meta, body) preserving order."""
    text = (SRC / name).read_text(encoding="utf-8")
    docs = {}
    for chunk in re.split(r"^@@@ ", text, flags=re.M)[1:]:
        key, rest = chunk.split("\n", 1)
        head, body = rest.split("\n---\n", 1) if not rest.startswith("---\n") else ("", rest[4:])
        meta = {}
        for line in head.splitlines():
            if line.strip():
                k, v = line.split(":", 1)
                meta[k.strip()] = v.strip()
        docs[key.strip()] = (meta, body.strip("\n").rstrip() + "\n")
    return docs


def apply_edits(body: str, edits) -> str:
    for old, new in edits:
        n = body.count(old)
        if n != 1:
            raise SystemExit(f"edit target occurs {n} times: {old!r}")
        body = body.replace(old, new)
    return body


# ==========================================================================
# Markdown-lite block parser
# ==========================================================================
def blocks(body: str):
    out = []
    for raw in re.split(r"\n\s*\n", body.strip()):
        lines = [l.rstrip() for l in raw.splitlines() if l.strip()]
        if not lines:
            continue
        if len(lines) == 1 and re.match(r"#{1,3} ", lines[0]):
            level = len(lines[0].split(" ", 1)[0])
            out.append(("h", level, lines[0].split(" ", 1)[1].strip()))
        elif all(l.startswith("| ") for l in lines):
            out.append(("table", [[c.strip() for c in l.strip().strip("|").split("|")] for l in lines]))
        elif all(l.startswith("- ") for l in lines):
            out.append(("ul", [l[2:].strip() for l in lines]))
        elif all(re.match(r"\d+\. ", l) for l in lines):
            out.append(("ol", [l.split(" ", 1)[1].strip() for l in lines], [l.split(" ", 1)[0] for l in lines]))
        else:
            out.append(("p", [l.strip() for l in lines]))
    return out


# ==========================================================================
# Text helpers
# ==========================================================================
PROTECT_RE = re.compile(r"\+?\(?\d[\d ().-]{5,}\d")


def wrap(text: str, width: int = 76, indent: str = "", subsequent: str | None = None) -> str:
    """textwrap that never breaks inside words, hyphenated words or phone numbers."""
    protected = PROTECT_RE.sub(lambda m: m.group(0).replace(" ", "\x01"), text)
    out = textwrap.fill(protected, width=width, initial_indent=indent,
                        subsequent_indent=indent if subsequent is None else subsequent,
                        break_long_words=False, break_on_hyphens=False)
    return out.replace("\x01", " ")


def render_md(body: str) -> str:
    out = []
    for b in re.split(r"\n\s*\n", body.strip()):
        lines = b.splitlines()
        if lines and all(l.startswith("| ") for l in lines):
            ncol = len(lines[0].strip().strip("|").split("|"))
            lines.insert(1, "|" + " --- |" * ncol)
        out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def render_txt(body: str, width: int = 76) -> str:
    out = []
    for b in blocks(body):
        kind = b[0]
        if kind == "h":
            _, level, text = b
            out.append(text + ("\n" + ("=" if level == 1 else "-") * len(text) if level <= 2 else ""))
        elif kind == "p":
            out.append("\n".join(wrap(line, width) for line in b[1]))
        elif kind == "ul":
            out.append("\n".join(wrap(i, width, "  - ", "    ") for i in b[1]))
        elif kind == "ol":
            out.append("\n".join(wrap(i, width, f"  {m} ", "     ") for m, i in zip(b[2], b[1])))
        elif kind == "table":
            out.append("\n".join(" | ".join(r) for r in b[1]))
    return "\n\n".join(out) + "\n"


def esc(s: str) -> str:
    return html.escape(s, quote=False)


def body_html(body: str, indent: str = "      ") -> str:
    out = []
    for b in blocks(body):
        kind = b[0]
        if kind == "h":
            out.append(f"<h{b[1]}>{esc(b[2])}</h{b[1]}>")
        elif kind == "p":
            out.append("<p>" + "<br>\n".join(esc(line) for line in b[1]) + "</p>")
        elif kind in ("ul", "ol"):
            items = "\n".join(f"{indent}  <li>{esc(i)}</li>" for i in b[1])
            out.append(f"<{kind}>\n{items}\n{indent}</{kind}>")
        elif kind == "table":
            head = "".join(f"<th>{esc(c)}</th>" for c in b[1][0])
            rows = "\n".join(f"{indent}    <tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in b[1][1:])
            out.append(f'<table class="confluenceTable">\n{indent}  <thead><tr>{head}</tr></thead>\n'
                       f"{indent}  <tbody>\n{rows}\n{indent}  </tbody>\n{indent}</table>")
    return "\n".join(indent + x for x in out)


# ==========================================================================
# HTML chrome
# ==========================================================================
WIKI_CSS = """
    body { font-family: "Segoe UI", Arial, sans-serif; margin: 0; color: #172b4d; }
    .topbar { background: #0b3d5c; color: #fff; padding: 8px 16px; display: flex; gap: 24px; }
    .layout { display: flex; }
    .space-tree { width: 240px; background: #f4f5f7; padding: 12px; }
    main { flex: 1; padding: 16px 32px; max-width: 880px; }
    .page-meta { width: 220px; font-size: 12px; color: #5e6c84; padding: 12px; }
    table.confluenceTable td, table.confluenceTable th { border: 1px solid #c1c7d0; padding: 4px 8px; }
    footer { border-top: 1px solid #dfe1e6; font-size: 11px; color: #6b778c; padding: 12px 16px; }"""

SPACE_PAGES = {
    "Engineering": ["Build System – Getting Started", "Firmware Branching Model", "Firmware Release Process",
                    "Git Conventions", "New Employee Onboarding – Engineering", "Booking the Environmental Test Lab"],
    "Quality": ["Calibration Laboratory – Overview", "ESD Handling Rules", "8D Report Template", "Internal Audit Plan 2024"],
    "Support": ["Customer Escalation Procedure", "Customer Support – Team Directory", "RMA Handling", "Zendesk Macros"],
    "Atlas": ["Post-Incident Review – Atlas EU Ingestion Outage (2024-02-07)", "Atlas Runbooks", "On-call Handbook"],
    "IT": ["VPN Setup for Remote Work", "Laptop Replacement", "Requesting Software"],
    "Company": ["Glossary of Terms", "Org Chart", "Holiday Calendar"],
    "Facilities": ["Building A Coffee Machine", "Building D Move", "Parking"],
}


def wiki_page(meta: dict, body: str, page_id: int) -> str:
    title, space = meta["title"], meta.get("space", "Company")
    labels = ", ".join(l.strip() for l in meta.get("labels", "").split(",") if l.strip())
    tree = "\n".join(f'          <li><a href="/spaces/{space.lower()}/{i}">{esc(p)}</a></li>'
                     for i, p in enumerate(SPACE_PAGES.get(space, []), 1))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{esc(title)} – NW Wiki</title>
  <link rel="stylesheet" href="/static/wiki-8.5.css">
  <style>{WIKI_CSS}
  </style>
  <script>
    window.NW_WIKI = {{ space: "{space}", pageId: {page_id}, editor: "v2", darkMode: false }};
  </script>
</head>
<body>
  <header class="topbar">
    <a class="logo" href="/">Northwind Instruments</a>
    <span class="product">NW Wiki</span>
    <form role="search" action="/search"><input type="search" name="q" placeholder="Search the wiki"></form>
    <div class="user-menu">Spaces · People · Create · Notifications · Profile · Log out</div>
  </header>
  <nav class="breadcrumbs" aria-label="Breadcrumb">
    <a href="/">Home</a> › <a href="/spaces/{space.lower()}">{esc(space)}</a> › <span>{esc(title)}</span>
  </nav>
  <div class="layout">
    <aside class="space-tree">
      <nav aria-label="Space navigation">
        <h2>{esc(space)} space</h2>
        <ul>
{tree}
        </ul>
        <a href="/spaces/{space.lower()}/archive">Archived pages</a>
      </nav>
    </aside>
    <main id="content">
      <article class="wiki-page" data-page-id="{page_id}">
{body_html(body, "        ")}
      </article>
    </main>
    <aside class="page-meta">
      <h3>Page information</h3>
      <p>Created by {esc(meta.get("author", "Unknown"))}, last edited on {meta.get("date", "")}</p>
      <p>Labels: {esc(labels)}</p>
      <h3>Recently viewed</h3>
      <ul><li>Home</li><li>Holiday Calendar</li><li>Org Chart</li></ul>
      <a class="button" href="#" onclick="return nwWatch({page_id});">Watch this page</a>
    </aside>
  </div>
  <footer>
    <p>© 2024 Northwind Instruments, Inc. · Internal use only · <a href="/privacy">Privacy</a> · <a href="/help">Help</a> · NW Wiki 8.5.4</p>
  </footer>
  <script src="/static/analytics.js" defer></script>
  <script>
    function nwWatch(id) {{ fetch("/api/watch/" + id, {{method: "POST"}}); return false; }}
  </script>
</body>
</html>
"""


def portal_page(meta: dict, body: str) -> str:
    """Older IT self-service portal template (used for the .htm pages)."""
    title = meta["title"]
    return f"""<!DOCTYPE html>
<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>{esc(title)} | IT Self-Service</title>
<style type="text/css">
body {{ font: 13px Verdana, sans-serif; background: #eef1f4; }}
#wrap {{ width: 960px; margin: 0 auto; background: #fff; }}
header, footer {{ background: #2b4a6f; color: #fff; padding: 6px 12px; }}
</style>
<script type="text/javascript" src="/portal/js/jquery-1.12.4.min.js"></script>
<script type="text/javascript">var _portal = {{ section: "{esc(meta.get('space', 'IT'))}", build: "2019.3" }};</script>
</head>
<body>
<div id="wrap">
<header><b>Northwind Instruments</b> | IT Self-Service Portal | <a href="/portal/login">Sign in</a></header>
<nav id="menu">
<ul>
<li><a href="/portal/">Home</a></li>
<li><a href="/portal/kb">How-to guides</a></li>
<li><a href="/portal/tickets/new">Open a ticket</a></li>
<li><a href="/portal/status">System status</a></li>
<li><a href="/portal/software">Software catalogue</a></li>
</ul>
</nav>
<main>
{body_html(body, "")}
</main>
<aside id="related">
<h4>Related guides</h4>
<ul><li>Laptop replacement</li><li>Multi-factor authentication</li><li>Printing from home</li></ul>
</aside>
<footer>IT Service Desk · Building A, room 114 · Portal version 2019.3 · Last updated {meta.get("date", "")}</footer>
</div>
</body>
</html>
"""


def print_page(meta: dict, body: str) -> str:
    """Printer-friendly export of a wiki page: different chrome, same <main>."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{esc(meta["title"])} – NW Wiki</title>
  <style>
    @media print {{ header, footer {{ display: none; }} }}
    body {{ font-family: Georgia, serif; margin: 2cm; }}
  </style>
</head>
<body onload="window.print()">
  <header><p>NW Wiki – printer-friendly view – exported 2024-05-02 by Kofi Asante</p></header>
  <main>
{body_html(body, "    ")}
  </main>
  <footer><p>Printed copies are uncontrolled. Check the wiki for the current version.</p></footer>
</body>
</html>
"""


def news_page(meta: dict, body: str) -> str:
    title = meta["title"]
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{esc(title)} – Northwind News</title>
  <link rel="stylesheet" href="/intranet/news.css">
  <script async src="/intranet/tracking.js"></script>
</head>
<body class="news">
  <header>
    <div class="brand">Northwind Intranet</div>
    <nav aria-label="Main">
      <a href="/intranet/">Home</a> <a href="/intranet/news">News</a> <a href="/intranet/people">People</a>
      <a href="/intranet/tools">Tools</a> <a href="/intranet/sites">Our sites</a>
    </nav>
  </header>
  <main>
    <article>
{body_html(body, "      ")}
    </article>
  </main>
  <aside class="more-news">
    <h2>More news</h2>
    <ul>
      <li><a href="/intranet/news/lunch-and-learn">Lunch and Learn spring programme</a></li>
      <li><a href="/intranet/news/q1-results">First-quarter results</a></li>
      <li><a href="/intranet/news/hannover">See you at Hannover Messe</a></li>
    </ul>
  </aside>
  <footer>
    <p>Published by Internal Communications on {meta.get("date", "")} · Northwind Instruments intranet · <a href="/intranet/feedback">Feedback</a></p>
  </footer>
</body>
</html>
"""


def sitemap_page() -> str:
    links = []
    for space, pages in SPACE_PAGES.items():
        items = "\n".join(f'          <li><a href="/spaces/{space.lower()}/{i}">{esc(p)}</a></li>' for i, p in enumerate(pages, 1))
        links.append(f"      <li>{esc(space)}\n        <ul>\n{items}\n        </ul>\n      </li>")
    joined = "\n".join(links)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Site map – NW Wiki</title>
  <link rel="stylesheet" href="/static/wiki-8.5.css">
</head>
<body>
  <header class="topbar">
    <a class="logo" href="/">Northwind Instruments</a> <span class="product">NW Wiki</span>
  </header>
  <nav class="sitemap" aria-label="Site map">
    <ul>
{joined}
    </ul>
  </nav>
  <footer>
    <p>© 2024 Northwind Instruments, Inc. · Internal use only · <a href="/privacy">Privacy</a> · <a href="/help">Help</a></p>
  </footer>
</body>
</html>
"""


# ==========================================================================
# PDF
# ==========================================================================
PDF_TRANSLIT = str.maketrans({"ł": "l", "Ł": "L", "ś": "s", "ń": "n", "ą": "a", "ę": "e", "ż": "z", "ź": "z", "ć": "c"})


def render_pdf(meta: dict, body: str) -> bytes:
    from fpdf import FPDF

    title = meta["title"]
    confidential = meta.get("confidential") == "yes"

    class DocPDF(FPDF):
        def header(self):
            self.set_font("Helvetica", "I", 8)
            self.set_text_color(120, 120, 120)
            if meta.get("images"):
                self.image(io.BytesIO(image("logo")), x=self.l_margin, y=8, h=6)
            left = "" if meta.get("images") else "Northwind Instruments, Inc."
            right = "Confidential – internal use only" if confidential else meta.get("docno", "www.northwind-instruments.com")
            self.cell(95, 5, left, align="L")
            self.cell(0, 5, right, align="R", new_x="LMARGIN", new_y="NEXT")
            self.ln(4)
            self.set_text_color(0, 0, 0)

        def footer(self):
            self.set_y(-13)
            self.set_font("Helvetica", "", 8)
            self.set_text_color(120, 120, 120)
            self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")
            self.set_text_color(0, 0, 0)

    pdf = DocPDF(format="A4")
    pdf.core_fonts_encoding = "windows-1252"
    d = datetime.strptime(meta.get("date", "2024-01-01"), "%Y-%m-%d").replace(hour=9, tzinfo=timezone.utc)
    pdf.set_creation_date(d)
    pdf.set_title(title)
    pdf.set_author(meta.get("author", "Northwind Instruments"))
    pdf.set_creator("Northwind DocGen 2.3")
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_margins(20, 15, 20)
    pdf.add_page()
    w = pdf.w - pdf.l_margin - pdf.r_margin
    figures = [f for f in meta.get("images", "").split(",") if f.strip() and not f.startswith("logo")]
    n_para = 0
    for b in blocks(body.translate(PDF_TRANSLIT)):
        kind = b[0]
        if kind == "p":
            n_para += 1
        if n_para == 2 and figures and kind != "p":
            for f in figures:
                pdf.image(io.BytesIO(image(f.strip())), w=w * 0.6, x=pdf.l_margin + w * 0.2)
                pdf.ln(3)
            figures = []
        if kind == "h":
            size = {1: 16, 2: 12, 3: 11}[b[1]]
            pdf.ln(2)
            pdf.set_font("Helvetica", "B", size)
            pdf.multi_cell(w, size * 0.5, b[2], new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif kind == "p":
            pdf.set_font("Helvetica", "", 10)
            for line in b[1]:
                pdf.multi_cell(w, 5, line, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif kind in ("ul", "ol"):
            pdf.set_font("Helvetica", "", 10)
            for n, item in enumerate(b[1], 1):
                marker = "•" if kind == "ul" else b[2][n - 1]
                pdf.set_x(pdf.l_margin + 4)
                pdf.cell(6, 5, marker)
                pdf.multi_cell(w - 10, 5, item, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif kind == "table":
            pdf.set_font("Helvetica", "", 9)
            with pdf.table(text_align="LEFT", line_height=4.5, padding=1.2) as t:
                for row in b[1]:
                    r = t.row()
                    for c in row:
                        r.cell(c)
            pdf.ln(3)
    return bytes(pdf.output())


# ==========================================================================
# DOCX
# ==========================================================================
def normalise_zip(data: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, FIXED_ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, src.read(info.filename))
    return out.getvalue()


def render_docx(meta: dict, body: str) -> bytes:
    import docx
    from docx.shared import Pt

    document = docx.Document()
    d = datetime.strptime(meta.get("date", "2024-01-01"), "%Y-%m-%d").replace(hour=9, tzinfo=timezone.utc)
    cp = document.core_properties
    cp.title = meta["title"]
    cp.author = meta.get("author", "Northwind Instruments")
    cp.last_modified_by = meta.get("author", "Northwind Instruments")
    cp.comments = ""
    cp.created = d
    cp.modified = d
    cp.revision = 3
    style = document.styles["Normal"]
    style.font.name = "Calibri"
    style.font.size = Pt(11)
    from docx.shared import Cm

    imgs = [f.strip() for f in meta.get("images", "").split(",") if f.strip()]
    if imgs:
        document.sections[0].header.paragraphs[0].add_run().add_picture(io.BytesIO(image("logo")), height=Cm(1.0))
    figures = [f for f in imgs if not f.startswith("logo")]
    n_para = 0
    for b in blocks(body):
        kind = b[0]
        if kind == "p":
            n_para += 1
        if n_para == 2 and figures and kind != "p":
            for f in figures:
                document.add_picture(io.BytesIO(image(f)), width=Cm(12))
            figures = []
        if kind == "h":
            document.add_heading(b[2], level=b[1])
        elif kind == "p":
            for line in b[1]:
                document.add_paragraph(line)
        elif kind == "ul":
            for i in b[1]:
                document.add_paragraph(i, style="List Bullet")
        elif kind == "ol":
            for i in b[1]:
                document.add_paragraph(i, style="List Number")
        elif kind == "table":
            rows = b[1]
            t = document.add_table(rows=len(rows), cols=len(rows[0]))
            t.style = "Table Grid"
            for r, row in enumerate(rows):
                for c, val in enumerate(row):
                    cell = t.cell(r, c)
                    cell.text = val
                    if r == 0:
                        for run in cell.paragraphs[0].runs:
                            run.bold = True
            document.add_paragraph("")
    buf = io.BytesIO()
    document.save(buf)
    return normalise_zip(buf.getvalue())


# ==========================================================================
# E-mail
# ==========================================================================
DISCLAIMERS = {
    "yes": ("This e-mail and any attachments are confidential and may be legally privileged. They are "
            "intended solely for the addressee. If you have received this message in error, please notify "
            "the sender and delete it from your system. Any unauthorised use, disclosure or copying is "
            "prohibited. Northwind Instruments, Inc. and its subsidiaries accept no liability for viruses "
            "transmitted with this e-mail."),
    "nl": ("Dit e-mailbericht is uitsluitend bestemd voor de geadresseerde en kan vertrouwelijke informatie "
           "bevatten. Indien u dit bericht onterecht heeft ontvangen, wordt u verzocht de afzender direct te "
           "informeren en het bericht te verwijderen. Northwind Instruments B.V., gevestigd te Eindhoven, "
           "ingeschreven bij de Kamer van Koophandel."),
    "supplier": ("Hallstein Sensorik GmbH · Sitz Pforzheim · Amtsgericht Mannheim HRB 504117 · "
                 "Geschäftsführer: Dr. Felix Hallstein, Andrea Maurer. Diese E-Mail enthält vertrauliche "
                 "Informationen. Wenn Sie nicht der richtige Adressat sind, informieren Sie bitte sofort den "
                 "Absender und löschen Sie diese E-Mail."),
}


def hdr(value: str) -> str:
    try:
        value.encode("ascii")
        return value
    except UnicodeEncodeError:
        return Header(value, "utf-8").encode()


def addr_hdr(value: str) -> str:
    parts = []
    for a in value.split(">,"):
        a = a.strip()
        if not a.endswith(">") and "<" in a:
            a += ">"
        name, _, rest = a.partition("<")
        name = name.strip()
        parts.append((hdr(name) + " <" + rest if name else "<" + rest))
    return ", ".join(parts)


def plain_to_html(text: str) -> str:
    out, quote = [], []

    def flush_quote():
        if quote:
            out.append("<blockquote style=\"border-left:2px solid #ccc;padding-left:8px;color:#555\">"
                       + "<br>\n".join(esc(q) for q in quote) + "</blockquote>")
            quote.clear()

    for para in re.split(r"\n\s*\n", text.strip()):
        lines = para.splitlines()
        if all(l.startswith(">") for l in lines):
            quote.extend(l[1:].strip() for l in lines)
            flush_quote()
            continue
        plain = [l for l in lines if not l.startswith(">")]
        quoted = [l[1:].strip() for l in lines if l.startswith(">")]
        out.append("<p>" + "<br>\n".join(esc(l) for l in plain) + "</p>")
        if quoted:
            quote.extend(quoted)
            flush_quote()
    return "\n".join(out)


def wrap_mail(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if len(line) <= 76:
            lines.append(line)
        elif line.startswith("> "):
            lines.append(wrap(line[2:], 74, "> "))
        elif line.startswith("- "):
            lines.append(wrap(line[2:], 76, "- ", "  "))
        else:
            lines.append(wrap(line, 76))
    return "\n".join(lines)


def render_eml(meta: dict, body: str) -> bytes:
    text = body.strip("\n")
    disc = meta.get("disclaimer")
    if disc:
        text += "\n\n" + "-" * 40 + "\n" + DISCLAIMERS[disc]
    plain = wrap_mail(text) + "\n"
    headers = [
        ("From", addr_hdr(meta["from"])),
        ("To", addr_hdr(meta["to"])),
    ]
    if meta.get("cc"):
        headers.append(("Cc", addr_hdr(meta["cc"])))
    headers += [("Subject", hdr(meta["subject"])), ("Date", meta["date"]), ("Message-ID", meta["message_id"])]
    if meta.get("in_reply_to"):
        headers += [("In-Reply-To", meta["in_reply_to"]), ("References", meta["in_reply_to"])]
    headers += [("MIME-Version", "1.0"), ("X-Mailer", "Microsoft Outlook 16.0")]
    if meta.get("lang"):
        headers.append(("Content-Language", meta["lang"]))

    def cte(s):
        try:
            s.encode("ascii")
            return "7bit"
        except UnicodeEncodeError:
            return "8bit"

    html_body = ("<html><head><meta charset=\"utf-8\"></head>\n<body><div style=\"font-family:Calibri,Arial,"
                 "sans-serif;font-size:11pt\">\n" + plain_to_html(text) + "\n</div></body></html>\n")
    mode = meta.get("multipart", "no")
    if mode == "yes":
        boundary = "----=_NextPart_" + hashlib.sha1(meta["message_id"].encode()).hexdigest()[:24]
        headers.append(("Content-Type", f'multipart/alternative; boundary="{boundary}"'))
        payload = (f"This is a multi-part message in MIME format.\n\n--{boundary}\n"
                   f"Content-Type: text/plain; charset=\"utf-8\"\nContent-Transfer-Encoding: {cte(plain)}\n\n{plain}\n"
                   f"--{boundary}\nContent-Type: text/html; charset=\"utf-8\"\n"
                   f"Content-Transfer-Encoding: {cte(html_body)}\n\n{html_body}\n--{boundary}--\n")
    elif mode == "html_only":
        headers += [("Content-Type", 'text/html; charset="utf-8"'), ("Content-Transfer-Encoding", cte(html_body))]
        payload = html_body
    else:
        headers += [("Content-Type", 'text/plain; charset="utf-8"; format=flowed'),
                    ("Content-Transfer-Encoding", cte(plain))]
        payload = plain
    raw = "".join(f"{k}: {v}\n" for k, v in headers) + "\n" + payload
    return raw.encode("utf-8")


# ==========================================================================
# Writing helpers
# ==========================================================================
WRITTEN: dict[str, bytes] = {}
PAGE_IDS = iter(range(48213, 49000, 7))


def write(rel: str, data: bytes | str):
    if isinstance(data, str):
        data = data.encode("utf-8")
    path = CORPUS / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    WRITTEN[rel] = data


def render(rel: str, meta: dict, body: str, template: str | None = None) -> bytes:
    ext = Path(rel).suffix
    if ext == ".md":
        return render_md(body).encode()
    if ext == ".txt":
        return render_txt(body).encode()
    if ext == ".html":
        if template == "print":
            return print_page(meta, body).encode()
        if template == "news":
            return news_page(meta, body).encode()
        return wiki_page(meta, body, next(PAGE_IDS)).encode()
    if ext == ".htm":
        return portal_page(meta, body).encode()
    if ext == ".pdf":
        return render_pdf(meta, body)
    if ext == ".docx":
        return render_docx(meta, body)
    if ext == ".eml":
        return render_eml(meta, body)
    raise ValueError(rel)


# ==========================================================================
# Planted duplicates
# ==========================================================================
# README rows are collected here: (duplicate, survivor-candidate, description)
EXACT_PLAN: list[tuple[str, str, str]] = []
NEAR_PLAN: list[tuple[str, str, str]] = []

NEAR_COPIES = [
    # (source path, new path, edits, description)
    ("policies/travel.md", "policies/travel_2023.md", [
        ("Effective: 2024-02-01. Version 3.2.", "Effective: 2023-01-15. Version 3.1."),
        ("capped at $289 per night", "capped at $269 per night"),
        (" Short-term rentals may be used for stays of more than seven nights with manager approval.", ""),
    ], "previous edition: effective date and version, one hotel cap changed; short-term rental sentence missing"),
    ("policies/travel.md", "policies/travel_2022.md", [
        ("Effective: 2024-02-01. Version 3.2.", "Effective: 2022-03-01. Version 3.0."),
        ("$75 per full travel day and $55", "$70 per full travel day and $50"),
        (" Rideshare is preferred over taxis where available.", ""),
    ], "older edition: date and version and per diem amounts changed; rideshare sentence missing"),
    ("policies/expense_policy.pdf", "policies/expense_policy_draft.pdf", [
        ("Internal Audit samples two percent of all expense reports each quarter and every report above $20,000.",
         "Each quarter, Internal Audit reviews a sample of two percent of all expense reports and every report above $20,000."),
    ], "draft: the audit paragraph's first sentence reworded"),
    ("policies/code_of_conduct.docx", "policies/code_of_conduct_2022.docx", [
        ("Version 2024.1, adopted 2024-01-08.", "Version 2022.2, adopted 2022-06-20."),
        (" If a competitor raises these topics, leave the conversation and inform Legal the same day.", ""),
        ("in online channels such as Teams and Slack", "in online channels such as Teams"),
    ], "2022 version: version and date changed, one sentence missing, one phrase shortened"),
    ("policies/it_acceptable_use.txt", "policies/it_acceptable_use_v1.1.txt", [
        ("Approved by the Information Security Steering Group on 2023-09-18.",
         "Version 1.1, approved by the Information Security Steering Group on 2024-02-22."),
        ("Use the approved internal assistant instead.",
         "Use the approved internal assistant instead, and do not upload customer documents to it unless the customer contract allows it."),
    ], "version 1.1: approval date changed, one sentence extended"),
    ("wiki/onboarding.html", "wiki/onboarding_v2.html", [
        ("It is maintained by the Engineering Operations team;",
         "It is maintained by the Engineering Operations team and was last reviewed in May 2024;"),
        ("new starters meet at the reception of Building A at 08:30", "new starters now meet at the reception of Building D at 08:30"),
        ("Expect the initial toolchain download to take an hour.", "Expect the initial toolchain download to take about forty minutes."),
    ], "revised page (different page id/chrome): building changed, review note added, download time reworded"),
    ("product/release_notes_atlas_4.2.md", "product/release_notes_atlas_4.2_hotfix1.md", [
        ("# Atlas 4.2 Release Notes", "# Atlas 4.2.1 Release Notes"),
        ("which broke imports into spreadsheets.",
         "which broke imports into spreadsheets.\n- Calibration reminder e-mails showed the due date in the wrong time zone."),
    ], "maintenance release notes: version in the title changed, one fixed issue added"),
    ("product/fl7_installation.docx", "product/fl7_installation_rev_c.docx", [
        ("Document IG-FL7-EN, revision B.", "Document IG-FL7-EN, revision C."),
        ("| Control valve | 40 × DN | 10 × DN |", "| Control valve | 50 × DN | 10 × DN |"),
        ("Vertical pipes with upward flow are ideal.",
         "Vertical pipes with upward flow are ideal. Avoid vertical pipes with downward flow."),
        ("The signal strength should be above 60 percent", "The signal strength should be above 50 percent"),
    ], "revision C: revision letter, one table value and a threshold changed, one sentence added"),
    ("product/px200_manual.pdf", "product/px200_manual_rev2.pdf", [
        ("Manual BA-PX200-EN, revision 7, January 2024.", "Manual BA-PX200-EN, revision 8, June 2024."),
        ("with firmware 4.1 or later", "with firmware 4.2 or later"),
        ("- Damping from 0 to 60 seconds.", "- Damping from 0 to 32 seconds."),
        ("| S520 | Simulation active | Switch off simulation mode |",
         "| S520 | Simulation active | Switch off simulation mode |\n| F412 | Fill fluid diagnostic warning | Contact Northwind Support |"),
    ], "revision 8: revision/date, firmware version and damping range changed, one fault code row added"),
]

EXACT_COPIES = [
    # (source path, new path, kind, description)
    ("policies/remote_work.md", "policies/remote_work_copy.md", "bytes", "byte-identical copy"),
    ("policies/leave_and_absence.docx", "shared/hr/leave_and_absence.docx", "bytes", "byte-identical copy in another folder"),
    ("policies/information_security.pdf", "shared/security/information_security.pdf", "bytes", "byte-identical copy in another folder"),
    ("mail/it_maintenance_window.eml", "mail/it_maintenance_window_copy.eml", "bytes", "byte-identical copy"),
    ("meetings/2024-06-03_safety_committee.txt", "shared/ehs/2024-06-03_safety_committee.txt", "bytes", "byte-identical copy in another folder"),
    ("meetings/2024-03-04_standup.txt", "meetings/2024-03-04_standup_reformatted.txt", "whitespace",
     "same text, different line breaks, CRLF, double spaces and trailing whitespace"),
    ("meetings/2024-04-22_retro.md", "meetings/2024-04-22_retro.txt", "format", "same text saved as .txt and .md (no markup), different line wrapping"),
    ("product/warranty_terms.txt", "shared/legal/warranty_terms_caps.txt", "upper", "same text in upper case"),
    ("wiki/release_process.html", "wiki/release_process_print.html", "print", "printer-friendly export: different page chrome, identical main content"),
]


def reformat_whitespace(text: str) -> str:
    paras = re.split(r"\n\s*\n", text.strip())
    out = []
    for p in paras:
        p = " ".join(p.split())
        p = re.sub(r"\. ", ".  ", p)  # two spaces after full stops
        out.append(" \n".join(textwrap.wrap(p, 58, break_long_words=False, break_on_hyphens=False)))
    return ("\r\n\r\n\r\n".join(out) + "\r\n").replace("\n", "\r\n").replace("\r\r\n", "\r\n")


# ==========================================================================
# Build steps
# ==========================================================================
def build_standalone():
    sources = {}
    for name in ("policies.txt", "wiki.txt", "mail.txt", "meetings.txt", "product.txt", "misc.txt"):
        for rel, (meta, body) in parse_src(name).items():
            sources[rel] = (meta, body)
            write(rel, render(rel, meta, body))
    return sources


def build_copies(sources):
    for src, dst, edits, desc in NEAR_COPIES:
        meta, body = sources[src]
        new_body = apply_edits(body, edits)
        new_meta = dict(meta)
        if dst.endswith("_2023.md"):
            new_meta["date"] = "2023-01-15"
        write(dst, render(dst, new_meta, new_body))
        NEAR_PLAN.append((dst, src, desc))

    for src, dst, kind, desc in EXACT_COPIES:
        meta, body = sources[src]
        if kind == "bytes":
            write(dst, WRITTEN[src])
        elif kind == "whitespace":
            write(dst, reformat_whitespace(WRITTEN[src].decode()))
        elif kind == "format":
            write(dst, render_txt(body, width=72))
        elif kind == "upper":
            write(dst, WRITTEN[src].decode().upper())
        elif kind == "print":
            write(dst, render(dst, meta, body, template="print"))
        EXACT_PLAN.append((dst, src, desc))

    # Forwarded e-mail (near duplicate of the original announcement)
    meta, body = sources["mail/q3_pricing_update.eml"]
    fwd_meta = dict(meta)
    fwd_meta.update({
        "from": "Pieter van Dijk <pieter.vandijk@northwind-instruments.com>",
        "to": "Sales EMEA <sales-emea@northwind-instruments.com>",
        "cc": "",
        "date": "Tue, 18 Jun 2024 09:03:52 +0200",
        "subject": "FW: Q3 price list and discount guidance",
        "message_id": "<pvd.20240618.fw-q3-pricing@northwind-instruments.com>",
        "multipart": "no",
    })
    fwd_body = ("All, FYI below. The same changes apply to EMEA from August 1.\nPieter\n\n"
                "-----Original Message-----\nFrom: Brian Castellano\nSent: Monday, June 17, 2024 5:42 PM\n"
                "Subject: Q3 price list and discount guidance\n\n" + body)
    write("mail/q3_pricing_update_fwd.eml", render_eml(fwd_meta, fwd_body))
    NEAR_PLAN.append(("mail/q3_pricing_update_fwd.eml", "mail/q3_pricing_update.eml",
                      "forwarded copy: short cover note and forward header added above the unchanged original"))

    # Intranet news version of the office move e-mail (cross-format near duplicate)
    meta, body = sources["mail/office_move_announcement.eml"]
    news = apply_edits(body, [
        ("Dear colleagues,\n\n", "# Engineering and Support are moving to Building D\n\n"),
        ("\n\nBest regards,\nInternal Communications\n", "\n"),
        ("\nWhat is moving\n", "\n## What is moving\n\n"),
        ("\nBefore the move\n", "\n## Before the move\n\n"),
        ("\nThe new space\n", "\n## The new space\n\n"),
        ("\nParking and access\n", "\n## Parking and access\n\n"),
        ("Here is what you need to know.", "Here is what you need to know about the move."),
    ])
    news_meta = {"title": "Engineering and Support are moving to Building D", "date": "2024-04-10"}
    write("wiki/news/office_move.html", render("wiki/news/office_move.html", news_meta, news, template="news"))
    NEAR_PLAN.append(("wiki/news/office_move.html", "mail/office_move_announcement.eml",
                      "intranet news version of the e-mail: greeting and signature removed, headings marked up, one sentence extended"))


def build_tickets():
    t = parse_src("tickets.txt")
    rows = []
    for tid, (m, body) in t.items():
        rows.append({"ticket_id": tid, "created": m["created"], "customer": m["customer"], "product": m["product"],
                     "priority": m["priority"], "status": m["status"], "subject": m["subject"], "body": body.strip()})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write("tickets/tickets.csv", buf.getvalue())
    row_of = {r["ticket_id"]: i for i, r in enumerate(rows, 1)}

    e = parse_src("escalations.txt")
    erows = [{"escalation_id": k, "ticket_id": m["ticket_id"], "level": m["level"], "owner": m["owner"],
              "opened": m["opened"], "body": body.strip()} for k, (m, body) in e.items()]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(erows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(erows)
    write("tickets/tickets_escalated.csv", buf.getvalue())
    erow_of = {r["escalation_id"]: i for i, r in enumerate(erows, 1)}

    EXACT_PLAN.append((f"tickets/tickets.csv#row={row_of['NW-10431']}", f"tickets/tickets.csv#row={row_of['NW-10231']}",
                       "same ticket body submitted twice (web form and e-mail), different ticket id"))
    EXACT_PLAN.append((f"tickets/tickets_escalated.csv#row={erow_of['ESC-0034']}", f"tickets/tickets.csv#row={row_of['NW-10392']}",
                       "escalation record copied the ticket body verbatim (row in another file)"))
    NEAR_PLAN.append((f"tickets/tickets.csv#row={row_of['NW-10383']}", f"tickets/tickets.csv#row={row_of['NW-10374']}",
                      "customer re-submitted the ticket a week later with one short sentence added"))
    return row_of


def build_kb():
    kb = parse_src("kb.txt")
    rows = []
    for kid, (m, body) in kb.items():
        text = body.strip("\n") if kid == "KB-0045" else body.strip()
        rows.append({"id": kid, "title": m["title"], "category": m["category"], "updated": m["updated"], "text": text})
    write("kb/kb_articles.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    row_of = {r["id"]: i for i, r in enumerate(rows, 1)}

    # KB-0007 also exported as a standalone .md (plain paragraphs, no markup)
    write("kb/kb_0007_modbus_timeouts.md", kb["KB-0007"][1])
    EXACT_PLAN.append((f"kb/kb_articles.jsonl#row={row_of['KB-0007']}", "kb/kb_0007_modbus_timeouts.md",
                       "same article text as a standalone .md file and as a JSONL row"))
    EXACT_PLAN.append((f"kb/kb_articles.jsonl#row={row_of['KB-0045']}", f"kb/kb_articles.jsonl#row={row_of['KB-0020']}",
                       "same article re-imported with extra spaces and line breaks (whitespace only)"))
    # Earlier draft of KB-0031 kept as a standalone .md
    draft = apply_edits(kb["KB-0031"][1], [
        (" Gateways with firmware older than 2.6 do not support the VB-30.", ""),
    ])
    write("kb/kb_0031_lorawan_join_failures_draft.md", draft)
    NEAR_PLAN.append((f"kb/kb_articles.jsonl#row={row_of['KB-0031']}", "kb/kb_0031_lorawan_join_failures_draft.md",
                      "published article vs. earlier draft: one sentence added"))
    NEAR_PLAN.append((f"kb/kb_articles.jsonl#row={row_of['KB-0058']}", f"kb/kb_articles.jsonl#row={row_of['KB-0012']}",
                      "revised article in the same file: required tool version changed (3.3 to 3.4)"))
    return row_of


def build_meeting_notes(sources):
    import pyarrow as pa
    import pyarrow.parquet as pq

    notes = parse_src("meeting_notes.txt")
    rows = []
    for mid, (m, body) in notes.items():
        rows.append({"meeting_id": mid, "date": m["date"], "team": m["team"], "title": m["title"],
                     "attendees": m["attendees"], "content": body.strip()})
    # duplicated export of MTG-0117 at row 40
    dup = dict(rows[16])
    rows.insert(39, dup)
    # ops review notes as stored in the meeting tool (near duplicate of the .md file)
    _, ops = sources["meetings/2024-05-14_ops_review.md"]
    ops = apply_edits(ops, [
        ("# Monthly Operations Review – May 2024\n\n", ""),
        ("Chair: Víctor Salas, Director of Operations.", "Chair: Víctor Salas."),
        ("which limits output to about 120 units per week", "which limits output to roughly 120 units per week"),
    ])
    rows.append({"meeting_id": "MTG-0150", "date": "2024-05-14", "team": "Operations",
                 "title": "Monthly operations review – May", "attendees": "Víctor Salas; Tomasz Wiśniewski; Mei Tanaka; "
                 "Ollie Grant; Luis Ortega; Grace Adeyemi", "content": ops.strip()})
    schema = pa.schema([("meeting_id", pa.string()), ("date", pa.date32()), ("team", pa.string()),
                        ("title", pa.string()), ("attendees", pa.string()), ("content", pa.string())])
    for r in rows:
        r["date"] = datetime.strptime(r["date"], "%Y-%m-%d").date()
    table = pa.Table.from_pylist(rows, schema=schema)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="snappy")
    write("meetings/meeting_notes.parquet", buf.getvalue())
    row_of = {}
    for i, r in enumerate(rows, 1):
        row_of.setdefault(r["meeting_id"], i)
    EXACT_PLAN.append(("meetings/meeting_notes.parquet#row=40", "meetings/meeting_notes.parquet#row=17",
                       "same meeting exported twice into the parquet file"))
    NEAR_PLAN.append((f"meetings/meeting_notes.parquet#row={len(rows)}", "meetings/2024-05-14_ops_review.md",
                      "meeting-tool copy of the .md notes: heading dropped, chair line shortened, one word changed"))
    return row_of, len(rows)


JUNK_PLAN: list[tuple[str, str]] = []


def write_junk(ticket_rows, kb_rows, mtg_rows):
    write("misc/empty.txt", b"")
    write("misc/whitespace_only.txt", b"   \n\n\t\t\n        \n \n")
    write("misc/test.txt", "test test\n")
    write("wiki/sitemap.html", sitemap_page())
    JUNK_PLAN.extend([
        ("misc/empty.txt", "empty file (0 bytes)"),
        ("misc/whitespace_only.txt", "only spaces, tabs and newlines"),
        ("misc/test.txt", "\"test test\""),
        ("policies/byod.txt", "stub policy containing only \"TBD\""),
        ("product/roadmap_2025.md", "markdown file with only a heading"),
        ("wiki/sitemap.html", "navigation-only page: all words are inside the header, nav and footer elements"),
        ("mail/ok_thanks.eml", "one-line reply \"ok thanks, works for me\""),
        (f"tickets/tickets.csv#row={ticket_rows['NW-10378']}", "ticket body \"asdf\""),
        (f"kb/kb_articles.jsonl#row={kb_rows['KB-0053']}", "article text \"n/a\""),
        (f"meetings/meeting_notes.parquet#row={mtg_rows['MTG-0145']}", "content \"Meeting cancelled – no notes.\""),
    ])


CORRUPT_PLAN: list[tuple[str, str, str]] = []


def truncated_pdf(rng) -> bytes:
    """First 40% of a real PDF: the PX-200 manual re-saved by pypdf with its calibration
    coefficient table attached.  The attachment stream is written before the page objects,
    so the prefix holds no page dictionaries or content streams: pypdf and pdfminer fail,
    and PyMuPDF's repair mode finds no page content either."""
    import pypdf

    rows = ["serial,sensor_module,c0,c1,c2,c3,t0,t1,t2"]
    for i in range(400):
        rows.append("S%04dK,SM-%d,%s" % (i, rng.randrange(100, 999),
                                         ",".join(f"{rng.uniform(-1, 1):.6e}" for _ in range(7))))
    writer = pypdf.PdfWriter()
    writer.add_attachment("px200_reference_coefficients.csv", ("\n".join(rows) + "\n").encode())
    for page in pypdf.PdfReader(io.BytesIO(WRITTEN["product/px200_manual.pdf"])).pages:
        writer.add_page(page)
    writer.add_metadata({"/Title": "PX-200 Series Pressure Transmitters - Operating Manual",
                         "/Author": "Technical Documentation", "/Producer": "Northwind DocGen 2.3"})
    buf = io.BytesIO()
    writer.write(buf)
    full = buf.getvalue()
    assert pypdf.PdfReader(io.BytesIO(full)).pages[0].extract_text()  # the full file is a real, readable PDF
    return full[: int(len(full) * 0.4)]


def write_corrupt():
    rng = random.Random(20240601)
    write("corrupt/truncated.pdf", truncated_pdf(rng))
    write("corrupt/random_bytes.pdf", rng.randbytes(18_000))
    write("corrupt/not_a_zip.docx", rng.randbytes(9_000))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in (
            ("[Content_Types].xml", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'),
            ("_rels/.rels", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>'),
            ("docProps/core.xml", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Supplier audit checklist</dc:title><dc:creator>Agnieszka Nowak</dc:creator></cp:coreProperties>'),
            ("word/styles.xml", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"/>'),
        ):
            zi = zipfile.ZipInfo(name, FIXED_ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, content)
    write("corrupt/supplier_audit_checklist.docx", buf.getvalue())
    blob = bytes(rng.randrange(0, 128) for _ in range(6000))
    write("corrupt/binary_nul.txt", b"TESTRIG-3 LOG EXPORT v2\n" + blob.replace(b"\x00", b"\x00\x00") + b"\x00" * 64)
    latin1 = ("Notes de la réunion qualité du 12 février à Lyon. Présents : Julien Morel, Élodie Faure, "
              "François Girard. Les réclamations clients ont diminué ce trimestre, mais les délais de livraison "
              "des transmetteurs de pression restent trop longs. Prochaine réunion prévue le 11 mars. "
              "Die Qualitätsprüfung in Stuttgart bestätigt die Ergebnisse; Maßnahmen folgen.\n")
    write("corrupt/latin1_notes.txt", latin1.encode("latin-1"))
    write("corrupt/garbage.parquet", b"PAR1" + rng.randbytes(4096) + b"PAR1")
    write("corrupt/contacts_no_text.csv",
          "id,name,notes\n1,Víctor Salas,Operations; prefers Teams over e-mail\n2,Grace Adeyemi,Calibration lab; "
          "on leave in August\n3,Pieter van Dijk,Benelux and UK sales\n4,Olivia Brooks,Marketing; organises Lunch and Learn\n")
    fr = parse_src("field_reports.txt")
    lines = []
    for rid, (m, body) in fr.items():
        if body.strip() == "BROKEN_LINE":
            lines.append('{"report_id": "FR-0103", "technician": "Hannah Kim", "date": "2024-05-21", '
                         '"text": "Brightline Pharma, cleanroom 2. Replaced the TS-410 probe in the WFI loop and')
            bad_row = len(lines)
        else:
            lines.append(json.dumps({"report_id": rid, "technician": m["technician"], "date": m["date"],
                                     "text": body.strip()}, ensure_ascii=False))
    write("corrupt/field_reports.jsonl", "\n".join(lines) + "\n")
    write("corrupt/scan.xyz", b"XYZSCAN\x01\x02" + rng.randbytes(3000))
    vsdx = io.BytesIO()
    with zipfile.ZipFile(vsdx, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in (("[Content_Types].xml", "<Types/>"),
                              ("visio/document.xml", "<VisioDocument><DocumentSettings/></VisioDocument>"),
                              ("visio/pages/page1.xml", "<PageContents><Shapes><Shape ID=\"1\"><Text>G2 gateway</Text></Shape></Shapes></PageContents>")):
            zi = zipfile.ZipInfo(name, FIXED_ZIP_TIME)
            z.writestr(zi, content)
    write("corrupt/network_diagram.vsdx", vsdx.getvalue())
    CORRUPT_PLAN.extend([
        ("corrupt/truncated.pdf", "first 40% of a real PDF (the PX-200 manual with an attached CSV): no page objects, no xref, no trailer", "unreadable_pdf"),
        ("corrupt/random_bytes.pdf", "random bytes with a .pdf extension", "unreadable_pdf"),
        ("corrupt/not_a_zip.docx", "random bytes with a .docx extension (not a zip archive)", "unreadable_docx"),
        ("corrupt/supplier_audit_checklist.docx", "valid zip archive without word/document.xml", "unreadable_docx"),
        ("corrupt/binary_nul.txt", "binary log export with NUL bytes", "binary_content"),
        ("corrupt/latin1_notes.txt", "French/German text encoded as latin-1 (invalid UTF-8)", "undecodable_text"),
        ("corrupt/garbage.parquet", "PAR1 magic around random bytes", "unreadable_parquet"),
        ("corrupt/contacts_no_text.csv", "CSV with columns id,name,notes only", "missing_text_column"),
        (f"corrupt/field_reports.jsonl#row={bad_row}", "truncated JSON object on line 3; the other 4 lines are good documents", "invalid_json_line"),
        ("corrupt/scan.xyz", "unsupported extension .xyz", "unsupported_format"),
        ("corrupt/network_diagram.vsdx", "Visio file, unsupported extension .vsdx", "unsupported_format"),
    ])


def other_languages(ticket_rows, kb_rows, mtg_rows):
    return [
        ("mail/nl_levering_vertraging.eml", "nl"),
        ("meetings/meeting_notes.parquet#row=%d" % mtg_rows["MTG-0144"], "pl"),
        ("policies/de/reisekostenrichtlinie.md", "de"),
        ("policies/fr/charte_teletravail.txt", "fr"),
        ("product/it/guida_rapida_ts410.pdf", "it"),
        ("kb/kb_articles.jsonl#row=%d" % kb_rows["KB-0052"], "de"),
        ("tickets/tickets.csv#row=%d" % ticket_rows["NW-10304"], "es"),
        ("tickets/tickets.csv#row=%d" % ticket_rows["NW-10306"], "fr"),
    ]


# ==========================================================================
# README
# ==========================================================================
README_INTRO = """# data_samples

Demo and test corpus for **Forge**. Everything here is fictional.

**Northwind Instruments, Inc.** is an imaginary mid-size maker of industrial sensors
(about 850 people), headquartered in Tacoma, WA, with a plant in Wrocław (PL) and
sales/service subsidiaries in Stuttgart (DE), Lyon (FR), Eindhoven (NL), Valencia (ES)
and Bologna (IT). Products: TS-400 temperature transmitters, PX-200 pressure
transmitters, FL-7 clamp-on flow meters, HG-5 humidity/gas transmitters, the VB-30
wireless vibration monitor, the NW-Link G2 gateway and the Atlas monitoring platform.
All people, customers, e-mail addresses (`example.*` and `northwind-instruments.com`)
and phone numbers (555 and other fictional ranges) are invented.

## Layout

`corpus/` is the only folder the pipeline ingests. It holds {n_files} files
({formats}) which yield {n_docs} documents ({n_rows} of them are rows of the
tabular files; {n_fail} ids are expected to be quarantined):

- `policies/` – company policies (.md, .txt, .pdf, .docx), plus German and French subsidiary policies
- `wiki/` – internal wiki pages with realistic chrome (.html, .htm) and one intranet news page
- `mail/` – e-mails (.eml): plain, multipart/alternative, HTML-only, quoted replies, signatures, disclaimers
- `meetings/` – meeting notes (.txt, .md) and `meeting_notes.parquet` (column `content`)
- `product/` – datasheets, manuals, release notes, guides (.pdf, .docx, .md, .txt), some with images
- `kb/` – `kb_articles.jsonl` (field `text`) and two standalone articles (.md)
- `tickets/` – `tickets.csv` and `tickets_escalated.csv` (column `body`)
- `shared/` – copies of documents that live elsewhere (planted exact duplicates)
- `misc/` – small notices and planted junk
- `corrupt/` – inputs that must be quarantined (plus the 4 good rows of `field_reports.jsonl`)

`src/` holds the source text (not ingested). `generate.py` rebuilds `corpus/` and this
README deterministically (byte-identical on every run with the same library versions;
generated with {versions}),
and `check.py` re-extracts every document and verifies all tables below. Planted items:
{counts}.

```
python3 data_samples/generate.py   # needs fpdf2, python-docx, pyarrow, beautifulsoup4, pypdf
python3 data_samples/check.py      # prints CLEAN and exits 0 when everything matches
```

## Conventions

- Document id = path relative to `corpus/`; rows of .csv/.jsonl/.parquet get
  `#row=N` (1-based record number; for JSONL the line number, counting bad lines too).
- Text as Forge's readers produce it (`forge_core/readers/`): HTML without
  `script/style/noscript/template/svg/nav/header/footer/aside/form`, text of `<main>`
  (else `<article>`, else `<body>`); PDF text layer via pypdf (a file without `%%EOF`
  near its end is rejected as truncated); .docx paragraphs and table rows; for e-mails the
  Subject line, a blank line, then the text/plain part (text/html if there is no plain
  part); the first of the `text`/`body`/`content` fields of rows. Then Forge's cleaning:
  NFC + whitespace normalisation, e-mail addresses -> `<EMAIL>`, phone numbers -> `<PHONE>`
  (with the regexes of `forge_core/clean/pii.py`).
- Similarity: tokens `re.findall(r"\w+", text.lower())`, 5-token shingles, Jaccard,
  computed on that cleaned text. Every planted near duplicate has J >= 0.85 with its
  survivor ({near_min} to {near_max}, well above Forge's LSH threshold of 0.8); no unplanted pair
  reaches J >= 0.6 and no unplanted pair is identical after lowercasing and whitespace
  collapsing (highest unplanted pair: J = {max_unplanted}).
- Survivor of a duplicate cluster = the member whose path sorts first (Python string
  order), then the lower row number. All members of a near-duplicate cluster point to
  that single survivor.
- `check.py` also simulates Forge's dedup (exact hash, then MinHash LSH with 128
  permutations, seed 1, threshold 0.8) when `datasketch` is installed, and requires it to
  find exactly the duplicates listed below.
- Junk is dropped by the length filter (fewer than 20 words) before deduplication, so the
  three junk documents that reduce to the empty string (`misc/empty.txt`,
  `misc/whitespace_only.txt`, `wiki/sitemap.html`) never meet in the dedup stage.
- The PII table lists every e-mail address and phone number that Forge's regexes find in
  the text of documents that are kept or dropped as duplicates (one row per document and
  value). Addresses in e-mail headers (From/To/Cc) are not part of the document text.
"""


def build_readme(docs, failures, sources):
    shs = {d: check.shingles(t) for d, t in docs.items()}

    # --- exact duplicates: survivors by rule
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for dup, src, _ in EXACT_PLAN:
        parent[find(dup)] = find(src)
    groups = {}
    for dup, src, _ in EXACT_PLAN:
        groups.setdefault(find(dup), set()).update((dup, src))
    exact_rows = []
    for members in groups.values():
        surv = min(members, key=check.sort_key)
        for dup, src, how in EXACT_PLAN:
            if dup in members:
                other = dup if dup != surv else src
                exact_rows.append((other, surv, how))
    exact_rows.sort(key=lambda r: check.sort_key(r[0]))

    nparent = {}

    def nfind(x):
        nparent.setdefault(x, x)
        while nparent[x] != x:
            x = nparent[x]
        return x

    for dup, src, _ in NEAR_PLAN:
        nparent[nfind(dup)] = nfind(src)
    ngroups = {}
    for dup, src, _ in NEAR_PLAN:
        ngroups.setdefault(nfind(dup), set()).update((dup, src))
    near_rows = []
    for members in ngroups.values():
        surv = min(members, key=check.sort_key)
        for dup, src, edit in NEAR_PLAN:
            if dup in members:
                other = dup if dup != surv else src
                j = check.jaccard(shs[other], shs[surv])
                near_rows.append((other, surv, f"{j:.3f}", edit))
    near_rows.sort(key=lambda r: check.sort_key(r[0]))

    junk = {d for d, _ in JUNK_PLAN}
    pii_rows = []
    for d in sorted(docs, key=check.sort_key):
        if d in junk:
            continue
        seen = set()
        for typ, val in check.find_pii(docs[d]):
            if (typ, val) not in seen:
                seen.add((typ, val))
                pii_rows.append((d, typ, val))

    # highest unplanted pair (for the prose)
    planted = set()
    for table in (exact_rows, near_rows):
        for r in table:
            planted.add(frozenset((r[0], r[1])))
    clusters = {}
    for r in list(exact_rows) + list(near_rows):
        clusters.setdefault(r[1], {r[1]}).add(r[0])
    same_cluster = set()
    for members in clusters.values():
        for a in members:
            for b in members:
                same_cluster.add((a, b))
    real = [d for d in docs if d not in junk]
    best = 0.0
    index = {}
    for d in real:
        for g in shs[d]:
            index.setdefault(g, []).append(d)
    inter = {}
    for g, ds in index.items():
        if len(ds) > 1:
            ds = sorted(ds)
            for i in range(len(ds)):
                for k in range(i + 1, len(ds)):
                    inter[(ds[i], ds[k])] = inter.get((ds[i], ds[k]), 0) + 1
    for (a, b), n in inter.items():
        if (a, b) not in same_cluster:
            best = max(best, n / (len(shs[a]) + len(shs[b]) - n))

    files = sorted(p for p in CORPUS.rglob("*") if p.is_file())
    ext_count = {}
    for p in files:
        ext_count[p.suffix.lower()] = ext_count.get(p.suffix.lower(), 0) + 1
    formats = ", ".join(f"{n} {e}" for e, n in sorted(ext_count.items(), key=lambda x: (-x[1], x[0])))
    n_rows = sum(1 for d in list(docs) + list(failures) if "#row=" in d)
    counts = (f"{len(exact_rows)} exact duplicates, {len(near_rows)} near duplicates, {len(pii_rows)} PII "
              f"occurrences, {len(JUNK_PLAN)} junk documents, {len(OTHER_LANG)} documents in other languages, "
              f"{len(CORRUPT_PLAN)} corrupt inputs")
    from importlib.metadata import version

    versions = ", ".join(f"{p} {version(p)}" for p in ("fpdf2", "python-docx", "pyarrow", "pypdf", "pillow"))
    js = [float(r[2]) for r in near_rows]
    intro = README_INTRO.format(versions=versions, near_min=f"{min(js):.3f}", near_max=f"{max(js):.3f}", n_files=len(files), formats=formats, n_docs=len(docs) + len(failures),
                                n_rows=n_rows, n_fail=len(failures), max_unplanted=f"{best:.3f}", counts=counts)

    def table(title, header, rows, code_cols):
        out = [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        for r in rows:
            out.append("| " + " | ".join(f"`{c}`" if i in code_cols else c for i, c in enumerate(r)) + " |")
        return "\n".join(out) + "\n"

    parts = [intro,
             table("Exact duplicates", ["duplicate", "survivor", "how"], exact_rows, {0, 1}),
             table("Near duplicates", ["duplicate", "survivor", "jaccard", "edit"], near_rows, {0, 1}),
             table("PII", ["document", "type", "value"], pii_rows, {0, 2}),
             table("Junk", ["document", "what"], JUNK_PLAN, {0}),
             table("Other languages", ["document", "language"],
                   OTHER_LANG, {0}),
             table("Corrupt files", ["document", "problem", "expected reason"], CORRUPT_PLAN, {0})]
    (HERE / "README.md").write_text("\n".join(parts), encoding="utf-8")
    return exact_rows, near_rows, pii_rows


OTHER_LANG: list[tuple[str, str]] = []


def main():
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    CORPUS.mkdir()
    sources = build_standalone()
    build_copies(sources)
    ticket_rows = build_tickets()
    kb_rows = build_kb()
    mtg_rows, _ = build_meeting_notes(sources)
    write_junk(ticket_rows, kb_rows, mtg_rows)
    write_corrupt()
    OTHER_LANG.extend(other_languages(ticket_rows, kb_rows, mtg_rows))
    docs, failures = check.extract_corpus(CORPUS)
    exact_rows, near_rows, pii_rows = build_readme(docs, failures, sources)
    total = sum(len(v) for v in WRITTEN.values())
    print(f"wrote {len(WRITTEN)} files ({total / 1e6:.2f} MB) to {CORPUS}")
    print(f"documents: {len(docs)} extracted, {len(failures)} quarantined")
    print(f"README: {len(exact_rows)} exact, {len(near_rows)} near, {len(pii_rows)} PII, {len(JUNK_PLAN)} junk, "
          f"{len(OTHER_LANG)} languages, {len(CORRUPT_PLAN)} corrupt")
    for r in near_rows:
        print(f"  near {r[0]} -> {r[1]}  J={r[2]}")


if __name__ == "__main__":
    main()

"""One reader per file format: bytes in, records of text out, or a reason the file is unreadable.

A reader raises Unreadable(reason, detail) for a file it cannot use at all; the reason becomes
the quarantined document's ledger reason, the detail tells a person what to fix. Tabular formats
(.csv, .jsonl, .parquet) yield one record per row, and a single bad row is quarantined on its own
while the rest of the file goes on.
"""

from __future__ import annotations

import codecs
import email
import email.policy
import io
import json
import logging
import posixpath
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from forge_core.config import IngestConfig

logging.getLogger("pypdf").setLevel(logging.ERROR)


class Unreadable(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass
class Record:
    """One document's text, or (for a bad row of a tabular file) why that row was not usable."""

    text: str | None
    row: int | None = None  # 1-based record number in a tabular file
    reason: str | None = None
    detail: str | None = None


Reader = Callable[[bytes, IngestConfig], list[Record]]


# Plain text -------------------------------------------------------------------------------------
def decode_text(data: bytes) -> str:
    """UTF-8 (a BOM is honoured, including UTF-16's); NUL bytes mean this is not a text file."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise Unreadable("undecodable_text", f"invalid UTF-16 at byte {e.start}") from None
    nul = data.find(b"\x00")
    if nul >= 0:
        raise Unreadable("binary_content", f"NUL byte at offset {nul}: not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise Unreadable(
            "undecodable_text",
            f"not valid UTF-8: byte 0x{data[e.start]:02x} at offset {e.start} (re-save the file as UTF-8)",
        ) from None


def read_text(data: bytes, cfg: IngestConfig) -> list[Record]:
    return [Record(decode_text(data))]


# HTML -------------------------------------------------------------------------------------------
CHROME_TAGS = ["script", "style", "noscript", "template", "svg", "nav", "header", "footer", "aside", "form"]
BLOCK_TAGS = [
    "p", "div", "section", "article", "main", "li", "ul", "ol", "table", "tr", "pre", "blockquote",
    "h1", "h2", "h3", "h4", "h5", "h6", "dl", "dt", "dd", "figure", "figcaption", "hr",
]  # fmt: skip


def html_to_text(markup: str | bytes) -> str:
    """The page's content without its chrome (navigation, header, footer, sidebars, scripts).

    Prefers <main>, then <article>, then <body>: wiki and intranet exports wrap content in one of
    them. Block elements become line breaks, inline ones do not, so sentences stay whole.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    for tag in soup(CHROME_TAGS):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    for br in root.find_all("br"):
        br.replace_with("\n")
    for block in root.find_all(BLOCK_TAGS):
        block.insert_before("\n")
        block.insert_after("\n")
    for cell in root.find_all(["td", "th"]):
        cell.insert_after(" | ")
    return root.get_text()


def read_html(data: bytes, cfg: IngestConfig) -> list[Record]:
    if b"\x00" in data[:4096] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise Unreadable("binary_content", "NUL bytes in an HTML file")
    return [Record(html_to_text(data))]


# PDF --------------------------------------------------------------------------------------------
def read_pdf(data: bytes, cfg: IngestConfig) -> list[Record]:
    """Text per page in content-stream order, pages separated by a blank line."""
    from pypdf import PdfReader

    if not data.lstrip()[:5] == b"%PDF-":
        raise Unreadable("unreadable_pdf", "no %PDF- header: not a PDF file")
    # pypdf recovers what it can from a truncated file and would return part of the text without
    # complaint; a missing end marker is the honest signal that the file is incomplete.
    if b"%%EOF" not in data[-2048:]:
        raise Unreadable("unreadable_pdf", "truncated: no %%EOF end marker (the file is incomplete)")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise Unreadable("encrypted_pdf", "password-protected PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
    except Unreadable:
        raise
    except Exception as e:  # pypdf raises many types on damaged files
        raise Unreadable("unreadable_pdf", f"{type(e).__name__}: {e}") from None
    return [Record("\n\n".join(pages))]


# Word -------------------------------------------------------------------------------------------
def read_docx(data: bytes, cfg: IngestConfig) -> list[Record]:
    """Paragraphs and tables in document order; a table row becomes one line of cells."""
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise Unreadable("unreadable_docx", "not a zip archive, so not a .docx file") from None
    except Exception as e:
        raise Unreadable("unreadable_docx", f"{type(e).__name__}: {e}") from None
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                lines.append(" | ".join(cell.text.strip() for cell in row.cells))
            lines.append("")
        else:
            lines.append(block.text)
    return [Record("\n".join(lines))]


# E-mail -----------------------------------------------------------------------------------------
def read_eml(data: bytes, cfg: IngestConfig) -> list[Record]:
    """The subject and the body (plain text preferred, else HTML converted to text)."""
    try:
        msg = email.message_from_bytes(data, policy=email.policy.default)
        subject = str(msg.get("subject", "") or "").strip()
        part = msg.get_body(preferencelist=("plain", "html"))
        body = ""
        if part is not None:
            content = part.get_content()
            body = html_to_text(content) if part.get_content_subtype() == "html" else content
    except Exception as e:
        raise Unreadable("unreadable_email", f"{type(e).__name__}: {e}") from None
    if not subject and not body and not msg.keys():
        raise Unreadable("unreadable_email", "no e-mail headers and no body")
    return [Record(f"{subject}\n\n{body}" if subject else body)]


# Tabular ----------------------------------------------------------------------------------------
def pick_text_column(columns: list[str], cfg: IngestConfig) -> str:
    for name in cfg.text_columns:
        if name in columns:
            return name
    raise Unreadable(
        "missing_text_column",
        f"none of {cfg.text_columns} among the columns {columns} (set ingest.text_columns)",
    )


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def read_jsonl(data: bytes, cfg: IngestConfig) -> list[Record]:
    """One JSON object per line; a bad line is quarantined alone, with its line number."""
    text = decode_text(data)
    records: list[Record] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue  # blank lines separate records; they are not records
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            records.append(Record(None, number, "invalid_json_line", f"line {number}: {e.msg} at column {e.colno}"))
            continue
        if not isinstance(obj, dict):
            records.append(
                Record(
                    None, number, "invalid_json_line", f"line {number}: expected an object, got {type(obj).__name__}"
                )
            )
            continue
        field = next((name for name in cfg.text_columns if name in obj), None)
        if field is None:
            detail = f"line {number}: none of {cfg.text_columns} in keys {sorted(obj)} (set ingest.text_columns)"
            records.append(Record(None, number, "missing_text_field", detail))
            continue
        records.append(Record(_cell_text(obj[field]), number))
    return records


def _frame_records(frame: pl.DataFrame, cfg: IngestConfig) -> list[Record]:
    column = pick_text_column(frame.columns, cfg)
    return [Record(_cell_text(v), i) for i, v in enumerate(frame[column].to_list(), start=1)]


def read_csv(data: bytes, cfg: IngestConfig) -> list[Record]:
    try:
        frame = pl.read_csv(io.BytesIO(data), infer_schema=False, encoding="utf8")
    except Exception as e:
        raise Unreadable("unreadable_csv", f"{type(e).__name__}: {e}") from None
    return _frame_records(frame, cfg)


def read_parquet(data: bytes, cfg: IngestConfig) -> list[Record]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as e:
        raise Unreadable("unreadable_parquet", f"{type(e).__name__}: {e}") from None
    column = pick_text_column(table.column_names, cfg)
    return [Record(_cell_text(v), i) for i, v in enumerate(table.column(column).to_pylist(), start=1)]


READERS: dict[str, tuple[str, Reader]] = {
    ".txt": ("text", read_text),
    ".text": ("text", read_text),
    ".md": ("markdown", read_text),
    ".markdown": ("markdown", read_text),
    ".rst": ("rst", read_text),
    ".html": ("html", read_html),
    ".htm": ("html", read_html),
    ".xhtml": ("html", read_html),
    ".pdf": ("pdf", read_pdf),
    ".docx": ("docx", read_docx),
    ".eml": ("email", read_eml),
    ".jsonl": ("jsonl", read_jsonl),
    ".ndjson": ("jsonl", read_jsonl),
    ".csv": ("csv", read_csv),
    ".parquet": ("parquet", read_parquet),
}


def format_of(uri: str) -> str:
    """The reader's format name for a file, or 'unknown'."""
    suffix = posixpath.splitext(uri.split("#", 1)[0])[1].lower()
    return READERS[suffix][0] if suffix in READERS else "unknown"


def read_records(uri: str, data: bytes, cfg: IngestConfig) -> list[Record]:
    """Dispatch on the file suffix; unknown suffixes are unreadable, never skipped."""
    suffix = posixpath.splitext(uri)[1].lower()
    if suffix not in READERS:
        supported = ", ".join(sorted(READERS))
        raise Unreadable(
            "unsupported_format", f"no reader for '{suffix or '(no suffix)'}' files; supported: {supported}"
        )
    _, reader = READERS[suffix]
    return reader(data, cfg)

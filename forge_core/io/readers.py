"""One reader per file format: bytes in, records of text out, or a reason the file is unreadable.

A reader raises Unreadable(reason, detail) for a file it cannot use at all; the reason becomes
the quarantined document's ledger reason, the detail tells a person what to fix. Tabular formats
(.csv, .jsonl, .parquet) yield one record per row, and a single bad row is quarantined on its own
while the rest of the file goes on. An e-mail yields its own record first, then the records of its
attachments, each marked with the attachment it came from (a broken attachment is a bad record of
its own: the e-mail is still kept).

HTML extraction lives in html.py and e-mail in mail.py; this module holds the simpler formats and
the dispatch table.
"""

from __future__ import annotations

import codecs
import io
import json
import logging
import posixpath
import zipfile

import polars as pl

from forge_core.config import IngestConfig
from forge_core.io.html import html_to_text
from forge_core.io.mail import read_eml
from forge_core.io.records import Attachment, Reader, Record, Unreadable

__all__ = ["READERS", "Attachment", "Record", "Unreadable", "format_of", "html_to_text", "read_records"]

logging.getLogger("pypdf").setLevel(logging.ERROR)


# Plain text -------------------------------------------------------------------------------------
# Without a BOM and without NUL bytes (checked first), UTF-16/32 are never the plausible reading of
# a file: charset-normalizer would otherwise read short Latin-1 text such as b"caf\xe9" as UTF-16.
WIDE_ENCODINGS = ["utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le"]


def decode_text(data: bytes) -> str:
    """UTF-8 (a BOM is honoured, including UTF-16's), else the legacy encoding it was written in.

    NUL bytes mean this is not a text file. Bytes that are neither UTF-8 nor any plausible legacy
    encoding are undecodable: guessing would feed the model garbage.
    """
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
        text = decode_legacy(data)
        if text is None:
            raise Unreadable(
                "undecodable_text",
                f"not valid UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start}) and no plausible legacy "
                "encoding found (re-save the file as UTF-8)",
            ) from None
        return text


def decode_legacy(data: bytes) -> str | None:
    """The text in the most plausible legacy encoding (charset-normalizer), or None if there is none.

    Single-byte encodings often read the same bytes equally well (cp1250 and cp1252 both make sense
    of most Western text, but turn 'naïve' into 'naďve'): among the best-scoring readings, Windows-1252
    wins, because it is what Western office software wrote (and what 'latin-1' means on the web).
    """
    from charset_normalizer import from_bytes

    matches = from_bytes(data, cp_exclusion=WIDE_ENCODINGS)
    best = matches.best()
    if best is None:
        return None
    if any(m.chaos <= best.chaos and "cp1252" in m.could_be_from_charset for m in matches):
        return data.decode("cp1252")
    return str(best)


def read_text(data: bytes, cfg: IngestConfig) -> list[Record]:
    return [Record(decode_text(data))]


def read_html(data: bytes, cfg: IngestConfig) -> list[Record]:
    if b"\x00" in data[:4096] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise Unreadable("binary_content", "NUL bytes in an HTML file")
    return [Record(html_to_text(data, tables=cfg.extract.html_tables))]


# PDF --------------------------------------------------------------------------------------------
def read_pdf(data: bytes, cfg: IngestConfig) -> list[Record]:
    """Text per page, pages separated by a form feed (the normalizer makes it a paragraph break).

    pypdf's plain mode follows the content stream, which is the reading order that PDF writers
    produce (one column, then the next); its layout mode places text as on the page and so
    interleaves the lines of two columns.
    """
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
        pages = [(page.extract_text() or "").strip("\n") for page in reader.pages]
    except Unreadable:
        raise
    except Exception as e:  # pypdf raises many types on damaged files
        raise Unreadable("unreadable_pdf", f"{type(e).__name__}: {e}") from None
    return [Record("\f".join(pages))]


# Word -------------------------------------------------------------------------------------------
def read_docx(data: bytes, cfg: IngestConfig) -> list[Record]:
    """Paragraphs and tables in document order, a blank line between them; a table row per line."""
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise Unreadable("unreadable_docx", "not a zip archive, so not a .docx file") from None
    except Exception as e:
        raise Unreadable("unreadable_docx", f"{type(e).__name__}: {e}") from None
    blocks: list[str] = []
    for block in document.iter_inner_content():
        if not isinstance(block, Table):
            blocks.append(block.text)
        elif cfg.extract.docx_tables:
            blocks.append("\n".join(filter(None, map(_docx_row, block.rows))))
    return [Record("\n\n".join(b for b in blocks if b.strip()))]


def _docx_row(row) -> str:
    """A table row as 'cell | cell'; a merged cell (python-docx repeats it per grid column) once."""
    cells, seen = [], set()
    for cell in row.cells:
        if id(cell._tc) not in seen:
            seen.add(id(cell._tc))
            cells.append(" ".join(cell.text.split()))
    return " | ".join(cells) if any(cells) else ""


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
    """Rows of a CSV file; one saved in a legacy encoding (Excel's default on Windows) is decoded first."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        data = decode_text(data).encode("utf-8")
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

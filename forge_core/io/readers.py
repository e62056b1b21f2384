"""One reader per file format: bytes in, records of text out, or a reason the file is unreadable.

A reader raises Unreadable(reason, detail) for a file it cannot use at all; the reason becomes
the quarantined document's ledger reason, the detail tells a person what to fix. Tabular formats
(.csv, .jsonl, .parquet) yield one record per row, and a single bad row is quarantined on its own
while the rest of the file goes on. An e-mail yields its own record first, then the records of its
attachments, each marked with the attachment it came from (a broken attachment is a bad record of
its own: the e-mail is still kept).
"""

from __future__ import annotations

import codecs
import email
import email.policy
import io
import json
import logging
import mimetypes
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from email.message import EmailMessage
from functools import cache

import polars as pl

from forge_core.config import EmailConfig, IngestConfig

logging.getLogger("pypdf").setLevel(logging.ERROR)
logging.getLogger("trafilatura").setLevel(logging.ERROR)


class Unreadable(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Attachment:
    """Where a record came from when it is not the file itself but a file attached to an e-mail."""

    name: str  # the attachment's file name, made unique within its e-mail
    format: str  # the reader's format name for it (format_of)
    bytes: int  # the attachment's decoded size


@dataclass
class Record:
    """One document's text, or (for a bad row or a bad attachment) why it was not usable."""

    text: str | None
    row: int | None = None  # 1-based record number in a tabular file
    reason: str | None = None
    detail: str | None = None
    attachment: Attachment | None = None  # set for records read from an e-mail's attachment


Reader = Callable[[bytes, IngestConfig], list[Record]]


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


# HTML -------------------------------------------------------------------------------------------
def html_to_text(markup: str | bytes, *, tables: bool = True) -> str:
    """The page's main content without its chrome (navigation, header, footer, sidebars, scripts).

    trafilatura finds the main content by its text density and structure, which works on pages that
    do not mark their chrome with <nav>/<header>/<footer> (Sphinx, wikis, CMS exports). It finds
    nothing in fragments and some tiny pages; those fall back to the tag-based extraction. Headings,
    paragraphs, list items and code blocks are separated by blank lines; a table row is one line.
    """
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
    text = re.sub(r" *\n *", "\n", re.sub(r" {2,}", " ", "".join(pieces))).strip().removesuffix("¶").rstrip()
    return [text] if text else []


CHROME_TAGS = ["script", "style", "noscript", "template", "svg", "nav", "header", "footer", "aside", "form"]
BLOCK_TAGS = [
    "p", "div", "section", "article", "main", "li", "ul", "ol", "table", "tr", "pre", "blockquote",
    "h1", "h2", "h3", "h4", "h5", "h6", "dl", "dt", "dd", "figure", "figcaption", "hr",
]  # fmt: skip


def soup_text(markup: str | bytes, tables: bool = True) -> str:
    """The content by its tags: without the chrome elements, from <main>, <article> or <body>.

    Block elements become line breaks, inline ones do not, so sentences stay whole.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    for tag in soup(CHROME_TAGS if tables else [*CHROME_TAGS, "table"]):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    for br in root.find_all("br"):
        br.replace_with("\n")
    for block in root.find_all(BLOCK_TAGS):
        block.insert_before("\n")
        block.insert_after("\n")
    for cell in root.find_all(["td", "th"]):
        cell.insert_after(" | ")
    return root.get_text().strip()


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


# E-mail -----------------------------------------------------------------------------------------
QUOTE_MARK = "<QUOTE>"
# "On Tue, 12 Mar 2024 at 09:14, Marta Ruiz <m.ruiz@example.com> wrote:"; the digit (of the date)
# keeps an ordinary sentence such as "On balance, the team wrote:" from counting as one.
ATTRIBUTION = re.compile(r"On\s(?=.*\d).{0,300}\swrote:")
ORIGINAL_MESSAGE = re.compile(r"-{2,}\s*Original Message\s*-{2,}", re.IGNORECASE)
FORWARD_SUBJECT = re.compile(r"\s*fwd?\s*:", re.IGNORECASE)  # "FW:", "Fwd:"
SIGNATURE_SEPARATORS = ("-- ", "--")  # RFC 3676's "-- ", and the same with its space trimmed


def read_eml(data: bytes, cfg: IngestConfig) -> list[Record]:
    """The e-mail's text, then (with ingest.extract.email.attachments) each attachment's records."""
    return _read_email(data, cfg, attachments=cfg.extract.email.attachments)


def read_eml_text(data: bytes, cfg: IngestConfig) -> list[Record]:
    """The e-mail's text only, whatever the config says about attachments."""
    return _read_email(data, cfg, attachments=False)


def _read_email(data: bytes, cfg: IngestConfig, attachments: bool) -> list[Record]:
    try:
        msg = email.message_from_bytes(data, policy=email.policy.default)
        body_part = msg.get_body(preferencelist=("plain", "html"))
        text = email_text(msg, body_part, cfg)
    except Exception as e:
        raise Unreadable("unreadable_email", f"{type(e).__name__}: {e}") from None
    if not text and not msg.keys():
        raise Unreadable("unreadable_email", "no e-mail headers and no body")
    records = [Record(text)]
    if attachments:
        for name, part in email_attachments(msg, body_part):
            records.extend(read_attachment(name, part, cfg))
    return records


def email_text(msg: EmailMessage, body_part: EmailMessage | None, cfg: IngestConfig) -> str:
    """'Subject: ...' and 'Date: ...' lines, a blank line, then the body with the configured rules.

    The subject often says what the message is about better than its body; the date places it in
    time. Sender and recipients are left out: they are personal data and teach nothing.
    """
    subject, date = (str(msg.get(name, "") or "").strip() for name in ("Subject", "Date"))
    headers = [f"{name}: {value}" for name, value in (("Subject", subject), ("Date", date)) if value]
    body = ""
    if body_part is not None:
        content = body_part.get_content()
        if body_part.get_content_subtype() == "html":
            content = html_to_text(content, tables=cfg.extract.html_tables)
        body = apply_email_rules(content, cfg.extract.email, forward=bool(FORWARD_SUBJECT.match(subject)))
    if not headers:
        return body
    return "\n".join(headers) + ("\n\n" + body if body else "")


def apply_email_rules(body: str, rules: EmailConfig, forward: bool = False) -> str:
    """Quoted replies kept, marked or removed, and the signature removed, as the config says.

    forward: the message forwards another one, so an "Original Message" block is its content, not
    a quote of an earlier reply.
    """
    lines = body.splitlines()
    out: list[str] = []
    position = 0
    for start, end in quoted_blocks(lines, forward):
        out.extend(_unsigned(lines[position:start], rules))
        if rules.quoted_replies == "keep":
            out.extend(lines[start:end])
        elif rules.quoted_replies == "mark":
            out.append(QUOTE_MARK)
        position = end
    out.extend(_unsigned(lines[position:], rules))
    return "\n".join(out).strip("\n")


def quoted_blocks(lines: list[str], forward: bool = False) -> list[tuple[int, int]]:
    """(start, end) line ranges of quoted earlier messages.

    An attribution line ("On <date>, <name> wrote:") followed by '>' lines quotes those lines
    (bottom posting: the reply may go on below). Without '>' lines after it, and after an Outlook
    "-----Original Message-----" line, the earlier message runs to the end (top posting). A run of
    '>' lines on its own is a quote too (interleaved replies).
    """
    blocks = []
    i = 0
    while i < len(lines):
        header = _attribution_length(lines, i, forward)
        if header:
            after = i + header
            while after < len(lines) and not lines[after].strip():
                after += 1
            end = _quoted_run_end(lines, after) if after < len(lines) and lines[after].startswith(">") else len(lines)
        elif lines[i].startswith(">"):
            end = _quoted_run_end(lines, i)
        else:
            i += 1
            continue
        blocks.append((i, end))
        i = end
    return blocks


def _attribution_length(lines: list[str], i: int, forward: bool) -> int:
    """How many lines the attribution starting at line i takes: 0 (none), 1, or 2 (mail clients wrap it)."""
    line = lines[i].strip()
    if ORIGINAL_MESSAGE.fullmatch(line):
        return 0 if forward else 1
    if ATTRIBUTION.fullmatch(line):
        return 1
    if line.startswith("On ") and i + 1 < len(lines) and ATTRIBUTION.fullmatch(f"{line} {lines[i + 1].strip()}"):
        return 2
    return 0


def _quoted_run_end(lines: list[str], i: int) -> int:
    """The end of a run of '>' lines starting at i; blank lines between them belong to the run."""
    end = i
    while i < len(lines) and (lines[i].startswith(">") or not lines[i].strip()):
        i += 1
        if lines[i - 1].startswith(">"):
            end = i
    return end


def _unsigned(lines: list[str], rules: EmailConfig) -> list[str]:
    """The lines before a signature separator, when signatures are removed."""
    if rules.signatures == "remove":
        for number, line in enumerate(lines):
            if line.rstrip("\r") in SIGNATURE_SEPARATORS:
                return lines[:number]
    return lines


def email_attachments(msg: EmailMessage, body_part: EmailMessage | None) -> Iterator[tuple[str, EmailMessage]]:
    """(unique file name, part) of each attachment, in the order a mail client lists them.

    An attached e-mail is one attachment: its own attachments are not walked into. A nameless
    attachment is called attachment-<n> with the extension of its content type.
    """
    seen: dict[str, int] = {}
    for number, part in enumerate(_leaf_parts(msg), start=1):
        if not _is_attachment(part, body_part):
            continue
        name = posixpath.basename((part.get_filename() or "").replace("\\", "/")) or (
            f"attachment-{number}{mimetypes.guess_extension(part.get_content_type()) or ''}"
        )
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:  # two attachments of the same name must not share a source_uri
            stem, suffix = posixpath.splitext(name)
            name = f"{stem} ({seen[name]}){suffix}"
        yield name, part


def _is_attachment(part: EmailMessage, body_part: EmailMessage | None) -> bool:
    """A file the sender attached: named or marked as an attachment, and neither the body nor an
    image that the HTML body shows by its Content-ID (a logo in the signature).

    Not "disposition == attachment" alone: Apple Mail sends attached PDFs as inline parts.
    """
    if part is body_part:
        return False
    disposition = part.get_content_disposition()
    shown_in_body = disposition != "attachment" and part["Content-ID"] and part.get_content_maintype() == "image"
    return not shown_in_body and (disposition == "attachment" or part.get_filename() is not None)


def _leaf_parts(part: EmailMessage) -> Iterator[EmailMessage]:
    """The non-multipart parts, depth first: the order a mail client lists the attachments in."""
    if part.get_content_maintype() == "multipart":
        for sub in part.iter_parts():
            yield from _leaf_parts(sub)
    else:
        yield part


def read_attachment(name: str, part: EmailMessage, cfg: IngestConfig) -> list[Record]:
    """The attachment's records, marked with it; a broken or unsupported attachment is one bad record."""
    data = _part_bytes(part)
    suffix = posixpath.splitext(name)[1].lower()
    fmt = READERS[suffix][0] if suffix in READERS else "unknown"
    attachment = Attachment(name=name, format=fmt, bytes=len(data))
    try:
        if suffix not in READERS:
            supported = ", ".join(sorted(READERS))
            raise Unreadable(
                "unsupported_attachment",
                f"no reader for '{suffix or '(no suffix)'}' attachments ({part.get_content_type()}); "
                f"supported: {supported}",
            )
        # An attached e-mail's own attachments would need a nested URI scheme: its text is enough.
        reader = read_eml_text if fmt == "email" else READERS[suffix][1]
        records = reader(data, cfg)
        if not records:
            raise Unreadable("no_records", f"the {fmt} attachment holds no records")
    except Unreadable as e:
        return [Record(None, reason=e.reason, detail=f"attachment {name}: {e.detail}", attachment=attachment)]
    except Exception as e:  # a reader bug on one attachment must not lose the e-mail
        detail = f"attachment {name}: {type(e).__name__}: {e}"
        return [Record(None, reason=f"unreadable_{fmt}", detail=detail, attachment=attachment)]
    return [replace(record, attachment=attachment) for record in records]


def _part_bytes(part: EmailMessage) -> bytes:
    """An attachment's bytes as they were written, transfer encoding (base64, quoted-printable) undone."""
    if part.get_content_type() == "message/rfc822":
        return part.get_content().as_bytes()
    return part.get_payload(decode=True) or b""


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

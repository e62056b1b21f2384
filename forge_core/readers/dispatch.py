"""The one dispatch table: a file's suffix names its format and its reader, and the options of the
ingest config that each format is handed.

Tabular formats (.csv, .jsonl, .parquet) yield one record per row. An e-mail yields its own record
first, then the records of its attachments, read here through this same table and each marked with
the attachment it came from (a broken attachment is a bad record of its own: the e-mail is still
kept).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import replace
from typing import Literal

from pydantic import Field

from forge_core.readers.chat import looks_like_chat, read_conversations
from forge_core.readers.docx import read_docx
from forge_core.readers.extracted import AttachedFile, Attachment, Record, Unreadable
from forge_core.readers.html import read_html
from forge_core.readers.limits import LimitsConfig
from forge_core.readers.mail import EmailConfig, read_eml
from forge_core.readers.pdf import read_pdf
from forge_core.readers.tabular import read_csv, read_jsonl, read_parquet
from forge_core.readers.text import read_text
from forge_core.section import Section


class ExtractConfig(Section):
    """How text is taken out of each format."""

    html_tables: bool = Field(default=True, description="Keep the text of HTML tables.")
    docx_tables: bool = Field(default=True, description="Keep the text of Word tables, a row per line.")
    email: EmailConfig = Field(default_factory=EmailConfig)


class ReadConfig(Section):
    """What the readers take from the ingest config (forge_core.ingest.IngestConfig adds the rest)."""

    extract: ExtractConfig = Field(default_factory=ExtractConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)

    kind: Literal["auto", "documents", "chat"] = Field(
        default="auto",
        description="What the dataset version holds: documents, or chat (one conversation per JSONL line: "
        '{"messages": [{"role", "content"}, ...]} or {"prompt", "completion"}), for `forge finetune`. auto: '
        "chat when every source file is a JSONL file whose first object is a conversation.",
    )
    text_columns: list[str] = Field(
        default=["text", "body", "content"],
        description="For .csv, .jsonl and .parquet: the first of these columns present holds a row's text.",
        min_length=1,
    )


Reader = Callable[[bytes, ReadConfig], list[Record]]


def read_email(data: bytes, cfg: ReadConfig) -> list[Record]:
    """The e-mail's text, then (with ingest.extract.email.attachments) each attachment's records."""
    rules = cfg.extract.email
    record, files = read_eml(
        data,
        rules,
        html_tables=cfg.extract.html_tables,
        attachments=rules.attachments,
        html_max_depth=cfg.limits.html_max_depth,
    )
    return [record, *(r for file in files for r in read_attachment(file, cfg))]


def _html(data: bytes, cfg: ReadConfig) -> list[Record]:
    return read_html(data, tables=cfg.extract.html_tables, max_depth=cfg.limits.html_max_depth)


def _jsonl(data: bytes, cfg: ReadConfig) -> list[Record]:
    if cfg.kind == "chat" or (cfg.kind == "auto" and looks_like_chat(data)):
        return read_conversations(data)
    return read_jsonl(data, cfg.text_columns)


READERS: dict[str, tuple[str, Reader]] = {
    ".txt": ("text", lambda data, cfg: read_text(data)),
    ".text": ("text", lambda data, cfg: read_text(data)),
    ".md": ("markdown", lambda data, cfg: read_text(data)),
    ".markdown": ("markdown", lambda data, cfg: read_text(data)),
    ".rst": ("rst", lambda data, cfg: read_text(data)),
    ".html": ("html", lambda data, cfg: _html(data, cfg)),
    ".htm": ("html", lambda data, cfg: _html(data, cfg)),
    ".xhtml": ("html", lambda data, cfg: _html(data, cfg)),
    ".pdf": ("pdf", lambda data, cfg: read_pdf(data, cfg.limits)),
    ".docx": ("docx", lambda data, cfg: read_docx(data, tables=cfg.extract.docx_tables, limits=cfg.limits)),
    ".eml": ("email", read_email),
    ".jsonl": ("jsonl", _jsonl),
    ".ndjson": ("jsonl", _jsonl),
    ".csv": ("csv", lambda data, cfg: read_csv(data, cfg.text_columns)),
    ".parquet": ("parquet", lambda data, cfg: read_parquet(data, cfg.text_columns)),
}


def format_of(uri: str) -> str:
    """The reader's format name for a file, or 'unknown'."""
    suffix = posixpath.splitext(uri.split("#", 1)[0])[1].lower()
    return READERS[suffix][0] if suffix in READERS else "unknown"


def _reader(suffix: str, what: str) -> Reader:
    """The reader for a suffix; unknown suffixes are unreadable, never skipped."""
    if suffix not in READERS:
        supported = ", ".join(sorted(READERS))
        raise Unreadable(
            "unsupported_format", f"no reader for '{suffix or '(no suffix)'}' {what}; supported: {supported}"
        )
    return READERS[suffix][1]


CHAT_SUFFIXES = (".jsonl", ".ndjson")


def read_records(uri: str, data: bytes, cfg: ReadConfig) -> list[Record]:
    """Dispatch on the file suffix."""
    suffix = posixpath.splitext(uri)[1].lower()
    if cfg.kind == "chat" and suffix not in CHAT_SUFFIXES:
        raise Unreadable(
            "not_a_conversation",
            f"ingest.kind is chat: conversations come as {' or '.join(CHAT_SUFFIXES)} files, one per line",
        )
    return _reader(suffix, "files")(data, cfg)


def read_attachment(file: AttachedFile, cfg: ReadConfig) -> list[Record]:
    """The attachment's records, marked with it; a broken or unsupported attachment is one bad record."""
    suffix = posixpath.splitext(file.name)[1].lower()
    fmt = READERS[suffix][0] if suffix in READERS else "unknown"
    attachment = Attachment(name=file.name, format=fmt, bytes=len(file.data))
    try:
        reader = _reader(suffix, f"attachments ({file.content_type})")
        records = (_email_text if fmt == "email" else reader)(file.data, cfg)
        if not records:
            raise Unreadable("no_records", f"the {fmt} attachment holds no records")
    except Unreadable as e:
        return [Record(None, reason=e.reason, detail=f"attachment {file.name}: {e.detail}", attachment=attachment)]
    except Exception as e:  # a reader bug on one attachment must not lose the e-mail
        detail = f"attachment {file.name}: {type(e).__name__}: {e}"
        return [Record(None, reason=f"unreadable_{fmt}", detail=detail, attachment=attachment)]
    return [replace(record, attachment=attachment) for record in records]


def _email_text(data: bytes, cfg: ReadConfig) -> list[Record]:
    """An attached e-mail's text only: its own attachments would need a nested URI scheme."""
    record, _ = read_eml(
        data,
        cfg.extract.email,
        html_tables=cfg.extract.html_tables,
        attachments=False,
        html_max_depth=cfg.limits.html_max_depth,
    )
    return [record]

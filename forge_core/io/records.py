"""What a reader returns: records of text, or the reason a file (or part of one) is unusable."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from forge_core.config import IngestConfig


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

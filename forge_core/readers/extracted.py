"""What a reader returns: records of text, or the reason a file (or part of one) is unusable.

A reader raises Unreadable(reason, detail) for a file it cannot use at all; the reason becomes
the quarantined document's ledger reason, the detail tells a person what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass


class Unreadable(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    def __reduce__(self):  # pickled whole, so that it crosses from the reading helper process (limits.py)
        return (Unreadable, (self.reason, self.detail))


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
    format: str | None = None  # when it is not the file's (a conversation of a .jsonl file: chat)


@dataclass(frozen=True)
class AttachedFile:
    """A file found inside another (an e-mail's attachment), handed back to the dispatcher to read.

    The reader of the outer file does not read it: only the dispatch table knows every format.
    """

    name: str  # unique within the outer file: it becomes part of the records' source_uri
    data: bytes  # as it was written, transfer encoding (base64, quoted-printable) undone
    content_type: str  # as the outer file declares it (for the message when no reader fits)

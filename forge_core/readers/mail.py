"""E-mail: the subject and date, and the body with quoted replies and signatures handled by config.

The attachments are handed back as files, not read here: the dispatcher reads them through the one
table of formats, each marked as the e-mail's child.
"""

from __future__ import annotations

import email
import email.policy
import mimetypes
import posixpath
import re
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Literal

from pydantic import Field

from forge_core.readers.extracted import AttachedFile, Record, Unreadable
from forge_core.readers.html import html_to_text
from forge_core.section import Section

QUOTE_MARK = "<QUOTE>"
# "On Tue, 12 Mar 2024 at 09:14, Marta Ruiz <m.ruiz@example.com> wrote:"; the digit (of the date)
# keeps an ordinary sentence such as "On balance, the team wrote:" from counting as one.
# Each is anchored (^) to where it is matched, so a search through a long line costs one attempt, not
# one per position (a line of 100k "On " would otherwise scan to its end from each).
ATTRIBUTION = re.compile(r"^On\s(?=.*\d).{0,300}\swrote:")
ORIGINAL_MESSAGE = re.compile(r"^-{2,}\s*Original Message\s*-{2,}", re.IGNORECASE)
FORWARD_SUBJECT = re.compile(r"^\s*fwd?\s*:", re.IGNORECASE)  # "FW:", "Fwd:"
SIGNATURE_SEPARATORS = ("-- ", "--")  # RFC 3676's "-- ", and the same with its space trimmed


class EmailConfig(Section):
    """What of an e-mail becomes training text."""

    quoted_replies: Literal["keep", "mark", "remove"] = Field(
        default="remove",
        description="Quoted earlier messages ('> ...', 'On ... wrote:'): keep, mark as <QUOTE>, remove.",
    )
    signatures: Literal["keep", "remove"] = Field(default="remove", description="The sign-off block after '-- '.")
    attachments: bool = Field(
        default=True, description="Ingest attachments of supported types as their own documents, parent recorded."
    )


def read_eml(
    data: bytes,
    rules: EmailConfig,
    *,
    html_tables: bool = True,
    attachments: bool = True,
    html_max_depth: int | None = None,
) -> tuple[Record, list[AttachedFile]]:
    """The e-mail's text, and (with attachments) its attached files for the dispatcher to read."""
    try:
        msg = email.message_from_bytes(data, policy=email.policy.default)
        body_part = msg.get_body(preferencelist=("plain", "html"))
        text = email_text(msg, body_part, rules, html_tables, html_max_depth)
    except Unreadable:
        raise  # an HTML body over ingest.limits says so itself
    except Exception as e:
        raise Unreadable("unreadable_email", f"{type(e).__name__}: {e}") from None
    if not text and not msg.keys():
        raise Unreadable("unreadable_email", "no e-mail headers and no body")
    files = []
    if attachments:
        for name, part in email_attachments(msg, body_part):
            files.append(AttachedFile(name=name, data=_part_bytes(part), content_type=part.get_content_type()))
    return Record(text), files


def email_text(
    msg: EmailMessage,
    body_part: EmailMessage | None,
    rules: EmailConfig,
    html_tables: bool = True,
    html_max_depth: int | None = None,
) -> str:
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
            content = html_to_text(content, tables=html_tables, max_depth=html_max_depth)
        body = apply_email_rules(content, rules, forward=bool(FORWARD_SUBJECT.match(subject)))
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


def _part_bytes(part: EmailMessage) -> bytes:
    """An attachment's bytes as they were written, transfer encoding (base64, quoted-printable) undone."""
    if part.get_content_type() == "message/rfc822":
        return part.get_content().as_bytes()
    return part.get_payload(decode=True) or b""

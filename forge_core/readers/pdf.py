"""PDF: the text of each page, in the order the PDF writer put it down."""

from __future__ import annotations

import io
import logging

from forge_core.readers.extracted import Record, Unreadable

logging.getLogger("pypdf").setLevel(logging.ERROR)


def read_pdf(data: bytes) -> list[Record]:
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

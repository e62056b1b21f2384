"""PDF: the text of each page, in the order the PDF writer put it down."""

from __future__ import annotations

import io
import logging

from forge_core.readers.extracted import Record, Unreadable
from forge_core.readers.limits import LimitsConfig

logging.getLogger("pypdf").setLevel(logging.ERROR)


def read_pdf(data: bytes, limits: LimitsConfig | None = None) -> list[Record]:
    """Text per page, pages separated by a form feed (the normalizer makes it a paragraph break).

    pypdf's plain mode follows the content stream, which is the reading order that PDF writers
    produce (one column, then the next); its layout mode places text as on the page and so
    interleaves the lines of two columns. The objects the file declares and its pages are counted
    against ingest.limits before any text is extracted.
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
        _check_size(reader, limits or LimitsConfig())
        pages = [(page.extract_text() or "").strip("\n") for page in reader.pages]
    except Unreadable:
        raise
    except Exception as e:  # pypdf raises many types on damaged files
        raise Unreadable("unreadable_pdf", f"{type(e).__name__}: {e}") from None
    return [Record("\f".join(pages))]


def _check_size(reader, limits: LimitsConfig) -> None:
    objects = int(reader.trailer.get("/Size", 0) or 0)
    if objects > limits.pdf_max_objects:
        raise Unreadable(
            "too_many_objects",
            f"{objects} objects exceed ingest.limits.pdf_max_objects = {limits.pdf_max_objects}",
        )
    pages = len(reader.pages)
    if pages > limits.pdf_max_pages:
        raise Unreadable("too_many_pages", f"{pages} pages exceed ingest.limits.pdf_max_pages = {limits.pdf_max_pages}")

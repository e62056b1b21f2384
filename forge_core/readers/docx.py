"""Word (.docx): paragraphs and tables in document order."""

from __future__ import annotations

import io
import zipfile

from forge_core.readers.extracted import Record, Unreadable
from forge_core.readers.limits import LimitsConfig, check_zip


def read_docx(data: bytes, tables: bool = True, limits: LimitsConfig | None = None) -> list[Record]:
    """Paragraphs and tables in document order, a blank line between them; a table row per line.

    A .docx is a zip archive: its inflated size is checked against ingest.limits before it is opened.
    """
    import docx
    from docx.table import Table

    check_zip(data, limits or LimitsConfig(), "docx file")
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
        elif tables:
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

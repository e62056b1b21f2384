"""Small real documents of each format, and shards of documents, made by the tests themselves."""

from __future__ import annotations

import io
from email.message import EmailMessage
from pathlib import Path

import polars as pl


def pdf_bytes(pages: list[str]) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page and a correct xref table."""
    objects: list[bytes] = []
    n = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode())
    font_ref = 3 + 2 * n
    for i, text in enumerate(pages):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_ref} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return pdf_from_objects(objects)


def pdf_from_objects(objects: list[bytes]) -> bytes:
    """Number the objects from 1 (the first is the catalog) and write them with a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def docx_bytes(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    import docx

    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    if table:
        t = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                t.cell(r, c).text = value
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def eml_bytes(subject: str, body: str, html: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ana Ruiz <ana.ruiz@example.com>"
    msg["To"] = "support@example.com"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 04 Mar 2025 09:12:00 +0000"
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def doc_frame(
    texts: list[str], uris: list[str] | None = None, stage: str = "ingested", first_id: int = 0
) -> pl.DataFrame:
    """Documents as a stage's shard holds them: doc_ids first_id, first_id + 1, ... in 16 hex digits.

    stage "ingested" gives the INGESTED columns; "cleaned" adds what cleaning writes (word count,
    language en, no PII).
    """
    n = len(texts)
    uris = uris or [f"file:///d/{i}.txt" for i in range(n)]
    columns = {
        "doc_id": [f"{first_id + i:016x}" for i in range(n)],
        "source_uri": uris,
        "source_file": uris,
        "row": [None] * n,
        "raw_sha256": ["0" * 64] * n,
        "bytes": [len(t) for t in texts],
        "format": ["text"] * n,
        "parent_doc_id": [None] * n,
        "text": texts,
    }
    if stage == "cleaned":
        columns |= {
            "n_words": [len(t.split()) for t in texts],
            "language": ["en"] * n,
            "language_score": [1.0] * n,
            "pii": ["{}"] * n,
        }
    return pl.DataFrame(columns, schema_overrides={"row": pl.Int64, "parent_doc_id": pl.String})

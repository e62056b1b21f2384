"""Extraction: the text a person would read in each format, without what they would skip.

HTML on real pages of the Python documentation (main content kept, navigation, sidebars and footer
dropped), PDF pages in order, Word paragraphs and tables in document order, e-mails with their
quoted replies, signatures and attachments handled as configured, and text in legacy encodings.
"""

from __future__ import annotations

import io
from email.message import EmailMessage

import polars as pl
import pytest
from conftest import SHARED
from documents import docx_bytes, pdf_bytes, pdf_from_objects

from forge_core.config import IngestConfig
from forge_core.executor import run_once
from forge_core.identity import doc_id
from forge_core.ingest import ingest_shard, read_file
from forge_core.io.shards import read_shard
from forge_core.io.sources import discover, fingerprint
from forge_core.io.workspace import Workspace
from forge_core.readers.dispatch import read_records
from forge_core.readers.extracted import Unreadable

CFG = IngestConfig()
DOCS = SHARED / "corpora" / "python-docs" / "html"


def config(**extract) -> IngestConfig:
    return IngestConfig.model_validate({"extract": extract})


def text_of(uri: str, data: bytes, cfg: IngestConfig = CFG) -> str:
    [record] = read_records(uri, data, cfg)
    return record.text


def flat(text: str) -> str:
    return " ".join(text.split())


# HTML -------------------------------------------------------------------------------------------
needs_docs = pytest.mark.skipif(not DOCS.is_dir(), reason=f"{DOCS} not present (../shared/corpora)")

# Text of the sidebar, the top and bottom navigation bars and the footer of every page.
CHROME = [
    "Previous topic", "Next topic", "This Page", "Report a Bug", "Show Source", "Quick search", "Navigation",
    "3.11.2 Documentation", "Copyright", "Python Software Foundation", "Last updated on", "Created using",
]  # fmt: skip

PAGES = {
    "tutorial/appetite.html": [
        "If you do much work on computers, eventually you find that there’s some task you’d like to automate.",
        "By the way, the language is named after the BBC show “Monty Python’s Flying Circus” and has nothing to do "
        "with reptiles.",
    ],
    "tutorial/controlflow.html": [
        "Perhaps the most well-known statement type is the if statement. For example:",
        "The given end point is never part of the generated sequence;",
    ],
    "library/json.html": [
        "Be cautious when parsing JSON data from untrusted sources.",
        "If sort_keys is true (default: False), then the output of dictionaries will be sorted by key.",
    ],
}


@needs_docs
@pytest.mark.parametrize("page", sorted(PAGES))
def test_html_keeps_the_body_and_drops_navigation_sidebar_and_footer(page):
    source = (DOCS / page).read_text(encoding="utf-8")
    text = text_of(page, source.encode())
    for sentence in PAGES[page]:
        assert sentence in flat(text), sentence
    for chrome in CHROME + (["Table of Contents"] if "Table of Contents" in source else []):
        assert chrome in source and chrome not in text, chrome


@needs_docs
def test_html_keeps_headings_paragraph_breaks_and_code_lines():
    text = text_of("appetite.html", (DOCS / "tutorial/appetite.html").read_bytes())
    assert text.startswith("1. Whetting Your Appetite\n\nIf you do much work")  # without Sphinx's ¶ permalink
    assert "\n\nPython is just the language for you.\n\n" in text  # a one-sentence paragraph stays one
    text = text_of("json.html", (DOCS / "library/json.html").read_bytes())
    assert "\n\nBasic Usage\n\n" in text
    assert ">>> import json\n>>> json.dumps(['foo', {'bar': ('baz', None, 1.0, 2)}])\n" in text


@needs_docs
def test_html_tables_are_rows_of_cells_unless_configured_off():
    data = (DOCS / "library/stdtypes.html").read_bytes()
    assert "x or y | if x is false, then y, else x | (1)" in text_of("stdtypes.html", data)
    assert "x or y | if x is false" not in text_of("stdtypes.html", data, config(html_tables=False))


def test_short_pages_and_fragments_still_give_their_text():
    page = b"""<html><body><nav><a href=/>Home</a> <a href=/hr>HR portal</a></nav>
    <p>Canteen closed on Friday.</p><footer>Copyright 2025 Northwind</footer></body></html>"""
    assert text_of("short.html", page) == "Canteen closed on Friday."
    assert text_of("fragment.html", b"<p>Quarterly results are <b>up</b>.</p>") == "Quarterly results are up."


# PDF --------------------------------------------------------------------------------------------
def pdf_with_lines(lines: list[tuple[int, int, str]]) -> bytes:
    """A one-page PDF with text lines at (x, y), written to the content stream in the given order."""
    stream = " ".join(f"BT /F1 11 Tf {x} {y} Td ({text}) Tj ET" for x, y, text in lines).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return pdf_from_objects(objects)


def test_pdf_pages_in_order_separated_by_form_feeds():
    text = text_of("a.pdf", pdf_bytes(["First page words", "Second page words"]))
    assert text.split("\f") == ["First page words", "Second page words"]


def test_pdf_two_columns_are_read_one_column_after_the_other():
    left = [(72, 700 - 14 * k, f"Left column line {k}.") for k in range(4)]
    right = [(320, 700 - 14 * k, f"Right column line {k}.") for k in range(4)]
    lines = text_of("columns.pdf", pdf_with_lines(left + right)).splitlines()
    assert lines == [text for _, _, text in left + right]  # not "Left line 0 ... Right line 0" side by side


# Word -------------------------------------------------------------------------------------------
def docx_with(blocks: list[str | list[list[str]]], merge_first_row: bool = False) -> bytes:
    """A .docx of paragraphs (str) and tables (rows of cells) in the given order."""
    import docx

    document = docx.Document()
    for block in blocks:
        if isinstance(block, str):
            document.add_paragraph(block)
            continue
        table = document.add_table(rows=len(block), cols=len(block[0]))
        for r, row in enumerate(block):
            for c, value in enumerate(row):
                table.cell(r, c).text = value
        if merge_first_row:
            table.cell(0, 0).merge(table.cell(0, len(block[0]) - 1)).text = block[0][0]
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


PRICE_TABLE = [["Part", "Price"], ["NW-100", "12.50"], ["NW-200", "19.00"]]


def test_docx_paragraphs_and_tables_in_document_order():
    data = docx_with(["Price list for 2025.", PRICE_TABLE, "Prices exclude VAT."])
    assert text_of("a.docx", data) == (
        "Price list for 2025.\n\nPart | Price\nNW-100 | 12.50\nNW-200 | 19.00\n\nPrices exclude VAT."
    )


def test_docx_tables_can_be_left_out():
    data = docx_with(["Price list for 2025.", PRICE_TABLE, "Prices exclude VAT."])
    assert text_of("a.docx", data, config(docx_tables=False)) == "Price list for 2025.\n\nPrices exclude VAT."


def test_docx_merged_cell_appears_once():
    data = docx_with([[["Q3 prices", ""], ["NW-100", "12.50"]]], merge_first_row=True)
    assert text_of("a.docx", data) == "Q3 prices\nNW-100 | 12.50"


# E-mail -----------------------------------------------------------------------------------------
REPLY = """Yes, the price list is attached.

--\x20
Ana Ruiz
Sales, Northwind

On Tue, 4 Mar 2025 at 09:12, Ben Ode <ben.ode@example.com> wrote:
> Can you send me the price list?
> Thanks, Ben
"""
HEADERS = "Subject: Re: Price list\nDate: Wed, 05 Mar 2025 10:00:00 +0000\n\n"


def message(body: str, subject: str = "Re: Price list") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Ana Ruiz <ana.ruiz@example.com>"
    msg["To"] = "ben.ode@example.com"
    msg["Subject"] = subject
    msg["Date"] = "Wed, 05 Mar 2025 10:00:00 +0000"
    msg.set_content(body)
    return msg


@pytest.mark.parametrize(
    "quoted, signatures, body",
    [
        ("keep", "keep", REPLY.rstrip("\n")),
        ("mark", "keep", "Yes, the price list is attached.\n\n-- \nAna Ruiz\nSales, Northwind\n\n<QUOTE>"),
        ("remove", "keep", "Yes, the price list is attached.\n\n-- \nAna Ruiz\nSales, Northwind"),
        ("keep", "remove", REPLY.rstrip("\n").replace("-- \nAna Ruiz\nSales, Northwind\n\n", "")),
        ("mark", "remove", "Yes, the price list is attached.\n\n<QUOTE>"),
        ("remove", "remove", "Yes, the price list is attached."),
    ],
)
def test_email_quoted_reply_and_signature_as_configured(quoted, signatures, body):
    cfg = config(email={"quoted_replies": quoted, "signatures": signatures})
    assert text_of("m.eml", message(REPLY).as_bytes(), cfg) == HEADERS + body


def test_email_outlook_original_message_block_runs_to_the_end():
    body = (
        "Approved, go ahead.\n\n-----Original Message-----\nFrom: Ben Ode\nSent: Tuesday, March 4, 2025 9:12 AM\n"
        "Subject: Discount for Lakeside\n\nCan we give Lakeside 18 percent?\n"
    )
    assert text_of("m.eml", message(body).as_bytes()) == HEADERS + "Approved, go ahead."
    marked = text_of("m.eml", message(body).as_bytes(), config(email={"quoted_replies": "mark"}))
    assert marked == HEADERS + "Approved, go ahead.\n\n<QUOTE>"


def test_email_bottom_posted_and_interleaved_replies_keep_the_answers():
    body = (
        "On Tue, 4 Mar 2025 at 09:12, Ben Ode <ben.ode@example.com>\nwrote:\n> Which sites need the upgrade?\n\n"
        "Lyon and Stuttgart.\n\n> And when?\n\nIn May.\n"
    )
    marked = text_of("m.eml", message(body).as_bytes(), config(email={"quoted_replies": "mark"}))
    assert marked == HEADERS + "<QUOTE>\n\nLyon and Stuttgart.\n\n<QUOTE>\n\nIn May."


def test_email_forward_keeps_the_forwarded_message():
    body = "FYI below.\n\n-----Original Message-----\nFrom: Brian\n\nThe Q3 price list goes live on July 1.\n"
    text = text_of("m.eml", message(body, subject="FW: Q3 price list").as_bytes())
    assert "The Q3 price list goes live on July 1." in text  # the forward's content, not a quote of a reply


def with_attachments(msg: EmailMessage, files: dict[str, bytes]) -> bytes:
    for name, data in files.items():
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


def ingest_email(tmp_path, data: bytes, cfg: IngestConfig = CFG) -> tuple[str, list[dict], list[dict]]:
    path = tmp_path / "offer.eml"
    path.write_bytes(data)
    [fp] = fingerprint(discover([str(path)]))
    docs, quarantined = read_file(fp, cfg)
    return fp.uri, docs, quarantined


def test_email_attachments_are_documents_whose_parent_is_the_email(tmp_path):
    notes = b"Delivery in week 12, installation in week 13."
    terms = docx_bytes(["Payment within 30 days of invoice."])
    data = with_attachments(message("See the attached notes and terms."), {"notes.txt": notes, "terms.docx": terms})
    uri, docs, quarantined = ingest_email(tmp_path, data)
    assert quarantined == []
    email_doc, notes_doc, terms_doc = docs
    sha = email_doc["raw_sha256"]
    assert email_doc["source_uri"] == uri and email_doc["parent_doc_id"] is None
    assert "See the attached notes and terms." in email_doc["text"]
    assert "Delivery in week 12" not in email_doc["text"]
    for doc, name, fmt, size in (
        (notes_doc, "notes.txt", "text", len(notes)),
        (terms_doc, "terms.docx", "docx", len(terms)),
    ):
        assert doc["source_uri"] == f"{uri}#attachment={name}"
        assert doc["doc_id"] == doc_id(doc["source_uri"], sha)
        assert doc["parent_doc_id"] == email_doc["doc_id"]
        assert (doc["format"], doc["bytes"], doc["raw_sha256"], doc["source_file"]) == (fmt, size, sha, uri)
    assert notes_doc["text"] == "Delivery in week 12, installation in week 13."
    assert terms_doc["text"] == "Payment within 30 days of invoice."


def test_tabular_attachment_gives_a_document_per_row(tmp_path):
    data = with_attachments(message("Prices attached."), {"prices.csv": b"id,text\n1,NW-100 costs 12.50\n2,NW-200\n"})
    uri, docs, _ = ingest_email(tmp_path, data)
    assert [(d["source_uri"], d["row"], d["text"]) for d in docs[1:]] == [
        (f"{uri}#attachment=prices.csv&row=1", 1, "NW-100 costs 12.50"),
        (f"{uri}#attachment=prices.csv&row=2", 2, "NW-200"),
    ]
    assert {d["parent_doc_id"] for d in docs[1:]} == {docs[0]["doc_id"]}


def test_broken_and_unsupported_attachments_are_quarantined_and_the_email_kept(tmp_path):
    broken = b"%PDF-1.4\n garbage garbage\n%%EOF\n"
    files = {"quote.pdf": broken, "logo.png": b"\x89PNG\r\n\x1a\n", "notes.txt": b"Call back on Monday."}
    uri, docs, quarantined = ingest_email(tmp_path, with_attachments(message("Offer attached."), files))
    assert [d["source_uri"] for d in docs] == [uri, f"{uri}#attachment=notes.txt"]
    email_id = docs[0]["doc_id"]
    rows = {r["source_uri"]: r for r in quarantined}
    pdf, png = rows[f"{uri}#attachment=quote.pdf"], rows[f"{uri}#attachment=logo.png"]
    assert (pdf["status"], pdf["reason"], pdf["parent_doc_id"], pdf["bytes"]) == (
        "quarantined", "unreadable_pdf", email_id, len(broken)
    )  # fmt: skip
    assert "quote.pdf" in pdf["detail"]
    assert (png["reason"], png["parent_doc_id"]) == ("unsupported_format", email_id)
    assert "'.png' attachments" in png["detail"]


def test_same_named_attachments_get_distinct_uris(tmp_path):
    msg = message("Two versions attached.")
    for version in (b"Draft one.", b"Draft two."):
        msg.add_attachment(version, maintype="text", subtype="plain", filename="notes.txt")
    uri, docs, _ = ingest_email(tmp_path, msg.as_bytes())
    assert [(d["source_uri"], d["text"]) for d in docs[1:]] == [
        (f"{uri}#attachment=notes.txt", "Draft one."),
        (f"{uri}#attachment=notes (2).txt", "Draft two."),
    ]


def test_image_shown_in_the_html_body_is_not_an_attachment(tmp_path):
    msg = message("Plain version.")
    msg.add_alternative('<p>HTML version.</p><img src="cid:logo@northwind">', subtype="html")
    html_part = msg.get_payload()[1]
    logo = b"\x89PNG\r\n\x1a\n"
    html_part.add_related(logo, "image", "png", cid="<logo@northwind>", disposition="inline", filename="logo.png")
    _, docs, quarantined = ingest_email(tmp_path, msg.as_bytes())
    assert len(docs) == 1 and quarantined == []


def test_attachments_can_be_left_out(tmp_path):
    data = with_attachments(message("See attached."), {"notes.txt": b"Call back on Monday."})
    _, docs, quarantined = ingest_email(tmp_path, data, config(email={"attachments": False}))
    assert len(docs) == 1 and quarantined == []


def test_attachment_lineage_reaches_the_shards(tmp_path):
    data = with_attachments(message("Offer attached."), {"notes.txt": b"Call back.", "quote.pdf": b"not a pdf"})
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "offer.eml").write_bytes(data)
    ws = Workspace(str(tmp_path / "ws"))
    files = fingerprint(discover([str(tmp_path / "in")]))
    report = run_once(
        ws, "ingest", 0, ws.cache_dir("ingest", "test"), lambda folder: ingest_shard(ws, folder, files, CFG)
    )
    docs = read_shard(ws, report.docs_path)
    ledger = read_shard(ws, report.ledger_path)
    email_id = docs.filter(pl.col("parent_doc_id").is_null())["doc_id"].item()
    assert docs.filter(pl.col("parent_doc_id").is_not_null())["parent_doc_id"].to_list() == [email_id]
    assert ledger.select("reason", "parent_doc_id").rows() == [("unreadable_pdf", email_id)]
    assert report.counts["quarantined.unreadable_pdf"] == 1


# Legacy encodings -------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_legacy_encoded_text_is_decoded(encoding):
    text = "Notes du café: une idée naïve, à Zürich. Die Straße ist schön, sagt Müller."
    assert text_of("notes.txt", text.encode(encoding)) == text


def test_windows_1252_punctuation_is_decoded():
    text = "Invoice – “final” version, 50 € total, café naïve."
    assert text_of("notes.txt", text.encode("cp1252")) == text


def test_legacy_encoded_csv_is_decoded():
    data = "id,text\n1,Réclamation: le capteur est défectueux à Zürich\n".encode("cp1252")
    [record] = read_records("tickets.csv", data, CFG)
    assert record.text == "Réclamation: le capteur est défectueux à Zürich"


def test_bytes_in_no_plausible_encoding_stay_undecodable():
    with pytest.raises(Unreadable) as err:
        read_records("a.txt", b"abc" + bytes(range(0x80, 0x100)) * 3, CFG)
    assert err.value.reason == "undecodable_text"
    assert "offset 3" in err.value.detail

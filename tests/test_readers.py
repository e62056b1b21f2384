"""Each reader on a real file of its format, and each way a file can be unreadable."""

from __future__ import annotations

import io
import json

import polars as pl
import pytest
from documents import docx_bytes, eml_bytes, pdf_bytes

from forge_core.config import IngestConfig
from forge_core.readers.dispatch import format_of, read_records
from forge_core.readers.extracted import Unreadable

CFG = IngestConfig()


def texts(uri: str, data: bytes, cfg: IngestConfig = CFG) -> list[str | None]:
    return [r.text for r in read_records(uri, data, cfg)]


def test_text_and_markdown_are_read_as_utf8_with_bom():
    assert texts("a.txt", "\ufeffCafé crème".encode()) == ["Café crème"]
    assert texts("a.md", b"# Title\n\nBody") == ["# Title\n\nBody"]
    assert texts("a.txt", "hello".encode("utf-16")) == ["hello"]


def test_invalid_utf8_is_read_in_its_legacy_encoding_or_else_undecodable_with_offset():
    assert texts("a.txt", "café".encode("latin-1")) == ["café"]
    with pytest.raises(Unreadable) as err:
        read_records("a.txt", b"abc" + bytes(range(0x80, 0x100)) * 3, CFG)
    assert err.value.reason == "undecodable_text"
    assert "offset 3" in err.value.detail


def test_nul_bytes_mean_binary_content():
    with pytest.raises(Unreadable) as err:
        read_records("a.txt", b"abc\x00\x01\x02", CFG)
    assert err.value.reason == "binary_content"


def test_html_drops_chrome_and_keeps_content_sentences_whole():
    page = b"""<html><head><title>T</title><style>.x{}</style><script>var a=1;</script></head>
    <body><header>Intranet Home | Search</header><nav><a href=/>Home</a><a href=/hr>HR</a></nav>
    <main><h1>Expense policy</h1><p>Claims are filed within <b>30 days</b> of travel.</p>
    <ul><li>Receipts required</li><li>Manager approval</li></ul></main>
    <aside>Related pages</aside><footer>Copyright 2025 Northwind</footer></body></html>"""
    [text] = texts("page.html", page)
    assert "Claims are filed within 30 days of travel." in text
    assert "Receipts required" in text and "Expense policy" in text
    for chrome in ("Intranet Home", "HR", "Related pages", "Copyright", "var a"):
        assert chrome not in text


def test_pdf_pages_are_read_in_order():
    [text] = texts("a.pdf", pdf_bytes(["First page words", "Second page words"]))
    assert text == "First page words\fSecond page words"


@pytest.mark.parametrize(
    "data, detail",
    [
        (pdf_bytes(["Some text"])[:120], "truncated"),
        (b"this is not a pdf at all", "no %PDF- header"),
        (b"%PDF-1.4\n garbage garbage\n%%EOF\n", ""),
    ],
)
def test_broken_pdfs_are_unreadable(data, detail):
    with pytest.raises(Unreadable) as err:
        read_records("a.pdf", data, CFG)
    assert err.value.reason == "unreadable_pdf"
    assert detail in err.value.detail


def test_docx_paragraphs_and_tables_in_order():
    data = docx_bytes(["Intro paragraph.", "Second paragraph."], table=[["Part", "Price"], ["NW-100", "12.50"]])
    [text] = texts("a.docx", data)
    assert text.index("Intro") < text.index("Second") < text.index("NW-100 | 12.50")


def test_docx_that_is_not_a_zip_is_unreadable():
    with pytest.raises(Unreadable) as err:
        read_records("a.docx", b"PK garbage bytes", CFG)
    assert err.value.reason == "unreadable_docx"


def test_eml_subject_date_and_plain_body():
    [text] = texts("m.eml", eml_bytes("Invoice 42 overdue", "Please pay by Friday.\n"))
    assert text == "Subject: Invoice 42 overdue\nDate: Tue, 04 Mar 2025 09:12:00 +0000\n\nPlease pay by Friday."


def test_eml_html_only_body_is_converted():
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["Subject"] = "Newsletter"
    msg.set_content("<html><body><nav>menu</nav><p>Quarterly results are up.</p></body></html>", subtype="html")
    [text] = texts("m.eml", msg.as_bytes())
    assert "Quarterly results are up." in text and "menu" not in text


def test_jsonl_rows_and_a_bad_line_quarantined_alone():
    lines = [json.dumps({"text": "first"}), "{not json", "", json.dumps({"title": "x"}), json.dumps({"body": "fourth"})]
    records = read_records("k.jsonl", "\n".join(lines).encode(), CFG)
    assert [(r.row, r.text, r.reason) for r in records] == [
        (1, "first", None),
        (2, None, "invalid_json_line"),
        (4, None, "missing_text_field"),
        (5, "fourth", None),
    ]
    assert "line 2" in records[1].detail


def test_csv_rows_use_first_configured_text_column():
    data = b'id,subject,body\n1,Hi,First ticket body\n2,Yo,"Second, with comma"\n'
    records = read_records("t.csv", data, CFG)
    assert [(r.row, r.text) for r in records] == [(1, "First ticket body"), (2, "Second, with comma")]


def test_csv_without_text_column_names_the_columns_it_has():
    with pytest.raises(Unreadable) as err:
        read_records("t.csv", b"id,name,notes\n1,a,b\n", CFG)
    assert err.value.reason == "missing_text_column"
    assert "notes" in err.value.detail and "ingest.text_columns" in err.value.detail


def test_text_column_is_configurable():
    cfg = IngestConfig(text_columns=["notes"])
    assert texts("t.csv", b"id,name,notes\n1,a,the note\n", cfg) == ["the note"]


def test_parquet_rows_and_garbage_parquet():
    buf = io.BytesIO()
    pl.DataFrame({"content": ["alpha", None, "gamma"]}).write_parquet(buf)
    assert texts("m.parquet", buf.getvalue()) == ["alpha", "", "gamma"]
    with pytest.raises(Unreadable) as err:
        read_records("m.parquet", b"PAR1 nonsense", CFG)
    assert err.value.reason == "unreadable_parquet"


def test_unknown_suffix_is_unsupported_not_skipped():
    with pytest.raises(Unreadable) as err:
        read_records("drawing.vsdx", b"...", CFG)
    assert err.value.reason == "unsupported_format"
    assert ".vsdx" in err.value.detail
    assert format_of("drawing.vsdx") == "unknown"
    assert format_of("x.csv#row=3") == "csv"


def test_file_over_the_configured_size_is_quarantined_unread(tmp_path):
    from forge_core.ingest import read_file
    from forge_core.io.sources import discover, fingerprint

    (tmp_path / "big.txt").write_text("word " * 1000)
    [fp] = fingerprint(discover([str(tmp_path)]))
    docs, [row] = read_file(fp, IngestConfig(max_file_bytes=1000))
    assert docs == []
    assert (row["status"], row["reason"]) == ("quarantined", "file_too_large")
    assert "ingest.max_file_bytes = 1000" in row["detail"]

"""The demo corpus, checked against the labelled lists in data_samples/README.md.

Every planted duplicate, PII value, junk document, foreign-language document and corrupt file
listed there is asserted here, so the README and the pipeline cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from conftest import SAMPLES
from flow_runs import kept_text, ledger, run_curate, uri

CORPUS = SAMPLES / "corpus"


def readme_tables() -> dict[str, list[dict[str, str]]]:
    """'## Heading' -> rows of the Markdown table under it, cells without backticks."""
    tables: dict[str, list[dict[str, str]]] = {}
    heading, header = None, None
    for line in (SAMPLES / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            heading, header = line[3:].strip(), None
            tables[heading] = []
        elif heading and line.startswith("|"):
            cells = [c.strip().strip("`").strip() for c in line.strip().strip("|").split("|")]
            if header is None:
                header = cells
            elif not set("".join(cells)) <= set("-: "):
                tables[heading].append(dict(zip(header, cells, strict=True)))
    return tables


TABLES = readme_tables()


def doc_uri(ref: str) -> str:
    path, _, row = ref.partition("#row=")
    return uri(CORPUS / path, int(row) if row else None)


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> dict:
    return run_curate([CORPUS], tmp_path_factory.mktemp("ws"), processes=True)


@pytest.fixture(scope="module")
def rows(result) -> dict[str, dict]:
    return {r["source_uri"]: r for r in ledger(result).to_dicts()}


# The default (enterprise) profile keeps every genuine short ticket and e-mail, so the duplicate
# tables are checked on the default run; the web profile has a run of its own below.


@pytest.fixture(scope="module")
def dedup_rows(rows) -> dict[str, dict]:
    return rows


@pytest.fixture(scope="module")
def web_rows(tmp_path_factory) -> dict[str, dict]:
    result = run_curate([CORPUS], tmp_path_factory.mktemp("ws"), processes=False, clean={"profile": "web"})
    return {r["source_uri"]: r for r in ledger(result).to_dicts()}


def test_readme_lists_every_kind_of_planted_material():
    expected = {"Exact duplicates": 12, "Near duplicates": 12, "PII": 25, "Junk": 8, "Other languages": 6}
    for table, at_least in expected.items():
        assert len(TABLES[table]) >= at_least, table
    assert len(TABLES["Corrupt files"]) >= 8


def test_corpus_is_realistic_in_size_and_formats(result):
    size = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
    assert size < 10 * 1024 * 1024
    assert result["counts"]["ingested"] >= 300
    suffixes = {p.suffix for p in CORPUS.rglob("*") if p.is_file()}
    assert {".txt", ".md", ".html", ".pdf", ".docx", ".eml", ".jsonl", ".csv", ".parquet"} <= suffixes


def test_ledger_accounts_for_every_document(result):
    led = ledger(result)
    c = result["counts"]
    assert c["ingested"] == led.height == c["kept"] + c["dropped"] + c["quarantined"]
    assert led["doc_id"].is_unique().all()
    files = [p for p in CORPUS.rglob("*") if p.is_file()]
    assert {uri(p) for p in files} == {u.split("#row=")[0] for u in led["source_uri"]}  # no file skipped


@pytest.mark.parametrize(
    "table, reason", [("Exact duplicates", "exact_duplicate"), ("Near duplicates", "near_duplicate")]
)
def test_every_planted_duplicate_is_dropped_naming_its_survivor(dedup_rows, table, reason):
    rows = dedup_rows
    wrong = []
    for planted in TABLES[table]:
        row = rows[doc_uri(planted["duplicate"])]
        survivor = rows[doc_uri(planted["survivor"])]
        if (row["status"], row["reason"], row["detail"]) != ("dropped", reason, survivor["doc_id"]):
            wrong.append((planted["duplicate"], row["reason"], row["detail"], survivor["doc_id"]))
        assert survivor["status"] == "kept", planted["survivor"]
    assert not wrong


def test_nothing_unplanted_is_dropped_as_a_duplicate(dedup_rows):
    rows = dedup_rows
    planted = {doc_uri(r["duplicate"]) for t in ("Exact duplicates", "Near duplicates") for r in TABLES[t]}
    found = {u for u, r in rows.items() if r["reason"] in ("exact_duplicate", "near_duplicate")}
    assert found - planted == set()


def test_no_planted_email_or_phone_survives_in_kept_text(result):
    text = "\n".join(kept_text(result)["text"])
    flat = re.sub(r"\s+", " ", text)
    survivors = [p["value"] for p in TABLES["PII"] if p["value"] in text or re.sub(r"\s+", " ", p["value"]) in flat]
    assert survivors == []
    assert "<EMAIL>" in text and "<PHONE>" in text


def test_junk_is_dropped_with_its_reason(rows):
    for junk in TABLES["Junk"]:
        row = rows[doc_uri(junk["document"])]
        assert (row["status"], row["reason"]) == ("dropped", junk["expected reason"]), junk


def test_the_default_profile_keeps_every_genuine_document(rows):
    """Only planted junk is dropped while cleaning: short tickets, e-mails and notes all stay."""
    junk = {doc_uri(j["document"]) for j in TABLES["Junk"]}
    dropped = {u for u, r in rows.items() if r["status"] == "dropped" and r["stage"] == "clean"}
    assert dropped == junk
    short = [u for u, r in rows.items() if r["status"] == "kept" and "tickets.csv" in u]
    assert len(short) >= 90


def test_other_languages_are_identified_and_kept_by_default(rows):
    for doc in TABLES["Other languages"]:
        row = rows[doc_uri(doc["document"])]
        assert (row["status"], row["language"]) == ("kept", doc["language"]), doc


def test_every_document_that_reached_cleaning_has_a_language_and_pii_counts(rows):
    cleaned = [r for r in rows.values() if r["status"] == "kept" or r["stage"] in ("clean", "dedup")]
    empty = {doc_uri(p) for p in ("misc/empty.txt", "misc/whitespace_only.txt", "wiki/sitemap.html")}  # no text
    assert cleaned and all(
        r["language"] and r["language_score"] is not None for r in cleaned if r["source_uri"] not in empty
    )
    assert all(r["pii"] is not None for r in cleaned)


def test_web_quality_rules_drop_with_their_own_reasons_and_say_why(web_rows):
    """The web profile (the FineWeb recipe) is strict with short business text: that is why it is not the default."""
    rows = web_rows
    quality = [r for r in rows.values() if r["reason"] and r["reason"].startswith(("gopher_", "c4_", "fineweb_"))]
    assert len(quality) > 50, "the web profile runs the Gopher, C4 and FineWeb rules"
    assert all(r["stage"] == "clean" and r["detail"] for r in quality)
    assert all(r["language"] == "en" for r in quality)  # clean.quality_languages: English only


def test_legacy_encodings_are_decoded_and_kept(rows, result):
    kept = kept_text(result)
    for doc in TABLES["Legacy encodings"]:
        row = rows[doc_uri(doc["document"])]
        assert (row["status"], row["language"]) == ("kept", doc["language"]), doc
        text = kept.filter(pl.col("source_uri") == doc_uri(doc["document"]))["text"][0]
        assert "réunion" in text and "\ufffd" not in text


def test_corrupt_files_are_quarantined_with_a_readable_reason(rows):
    for bad in TABLES["Corrupt files"]:
        row = rows[doc_uri(bad["document"])]
        assert (row["status"], row["reason"]) == ("quarantined", bad["expected reason"]), (bad, row["detail"])
        assert len(row["detail"]) > 10


def test_dataset_version_is_validated_and_complete(result):
    folder = Path(result["dataset"])
    assert result["validation"] == {"ingested": True, "cleaned": True, "deduplicated": True}
    assert (folder / "manifest.json").is_file()
    kept = pl.read_parquet(folder / "shards" / "*.parquet")
    assert kept.height == result["counts"]["kept"]

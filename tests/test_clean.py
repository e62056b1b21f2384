from __future__ import annotations

import polars as pl
import pytest

from forge_core.clean import clean_steps
from forge_core.clean.pii import redact
from forge_core.config import CleanConfig, PiiConfig
from forge_core.steps import run_steps


def shard(texts: list[str]) -> pl.DataFrame:
    n = len(texts)
    return pl.DataFrame(
        {
            "doc_id": [f"{i:016x}" for i in range(n)],
            "source_uri": [f"file:///d/{i}.txt" for i in range(n)],
            "source_file": [f"file:///d/{i}.txt" for i in range(n)],
            "row": [None] * n,
            "raw_sha256": ["0" * 64] * n,
            "bytes": [len(t) for t in texts],
            "format": ["text"] * n,
            "text": texts,
        },
        schema_overrides={"row": pl.Int64},
    )


def clean(texts: list[str], **cfg) -> tuple[list[str], pl.DataFrame]:
    out = run_steps(shard(texts), clean_steps(CleanConfig(**cfg)), stage="clean")
    return out.kept["text"].to_list(), out.ledger


def test_unicode_and_whitespace_are_normalized():
    [text], _ = clean(["  Cafe\u0301\u00a0 au\tlait\r\n\r\n\r\n\r\nzero\u200bwidth\x07 end  "], min_words=0)
    assert text == "Café au lait\n\nzerowidth end"


def test_nfkc_folds_compatibility_characters():
    [text], _ = clean(["ﬁle №5"], min_words=0, unicode_form="NFKC")
    assert text == "file No5"


@pytest.mark.parametrize(
    "phone",
    [
        "+1 (415) 555-0134", "+1 415 555 0134", "415-555-0199", "(212) 555-0147", "555.867.5309",
        "+44 20 7946 0958", "+49 30 1234 5678", "+33 1 42 68 53 00", "+31 20 794 6000", "1-800-555-0100",
    ],
)  # fmt: skip
def test_phone_numbers_are_redacted(phone):
    text, found = redact(f"Call me on {phone}, thanks.", PiiConfig())
    assert text == "Call me on <PHONE>, thanks."
    assert found["phone"] == 1


@pytest.mark.parametrize(
    "not_phone",
    ["on 2024-03-15", "version 2.13.0", "host 192.168.100.200", "order 2024-0031-77", "total 1,234,567.89"],
)
def test_dates_versions_and_ids_are_not_phones(not_phone):
    assert redact(not_phone, PiiConfig()) == (not_phone, {"email": 0, "phone": 0})


def test_emails_are_redacted_and_counted():
    text, found = redact("Write j.doe+billing@example.org or anna.berg@northwind-instruments.com.", PiiConfig())
    assert text == "Write <EMAIL> or <EMAIL>."
    assert found == {"email": 2, "phone": 0}


def test_pii_can_be_kept_by_config_but_is_still_counted():
    text, found = redact("mail a.b@example.com", PiiConfig(email="keep"))
    assert text == "mail a.b@example.com" and found["email"] == 1


def test_short_documents_are_dropped_with_reason_and_word_count():
    long = " ".join(["word"] * 25)
    kept, ledger = clean([long, "too few words here"])
    assert kept == [long]
    [row] = ledger.to_dicts()
    assert row["reason"] == "too_short" and row["stage"] == "clean" and row["status"] == "dropped"
    assert row["detail"] == "4 words < clean.min_words = 20"
    assert row["doc_id"] == f"{1:016x}"


def test_unspaced_scripts_are_counted_by_character_and_kept():
    japanese = (
        "当社の品質方針は、すべての製品が出荷前に校正されることを求めています。詳細は品質管理部に確認してください。"
    )
    chinese = "所有传感器在出厂前必须完成校准，并保存校准记录至少五年。"
    kept, ledger = clean([japanese, chinese, "短い"])
    assert kept == [japanese, chinese]
    assert ledger["detail"].to_list() == ["2 words < clean.min_words = 20"]


def test_mixed_text_counts_both_kinds_of_words():
    from forge_core.clean.filters import word_count

    counts = pl.DataFrame({"t": ["NW-100 の 校正", "three plain words", ""]}).select(word_count(pl.col("t")))
    assert counts.to_series().to_list() == [4, 3, 0]

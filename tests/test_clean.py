from __future__ import annotations

import polars as pl
from documents import doc_frame
from flow_runs import WEB_RULES_OFF

from forge_core.clean.pipeline import CleanConfig, clean_steps
from forge_core.steps import run_steps


def clean(texts: list[str], **cfg) -> tuple[list[str], pl.DataFrame]:
    """Normalization and length only: the web-text rules have tests of their own (test_quality.py)."""
    out = run_steps(doc_frame(texts), clean_steps(CleanConfig.model_validate({**WEB_RULES_OFF, **cfg})), stage="clean")
    return out.kept["text"].to_list(), out.ledger


def test_unicode_and_whitespace_are_normalized():
    [text], _ = clean(["  Cafe\u0301\u00a0 au\tlait\r\n\r\n\r\n\r\nzero\u200bwidth\x07 end  "], length={"min_words": 0})
    assert text == "Café au lait\n\nzerowidth end"


def test_indentation_is_kept_while_spaces_inside_lines_collapse():
    """Code, YAML and nested lists mean their indentation: only runs inside a line collapse."""
    source = "Example:\n\ndef f(x):\n    if x:   # comment\n\treturn  x\n    \n  - key:  value"
    [text], _ = clean([source], length={"min_words": 0})
    assert text == "Example:\n\ndef f(x):\n    if x: # comment\n\treturn x\n\n  - key: value"


def test_nfkc_folds_compatibility_characters():
    [text], _ = clean(["ﬁle №5"], length={"min_words": 0}, normalize={"unicode_form": "NFKC"})
    assert text == "file No5"


def test_short_documents_are_dropped_with_reason_and_word_count():
    long = " ".join(["word"] * 25)
    kept, ledger = clean([long, "too few words here", "Subject: Re: van\nDate: Thu, 02 May 2024\n\nok thanks"])
    assert kept == [long]
    rows = ledger.to_dicts()
    assert {row["reason"] for row in rows} == {"too_short"} and rows[0]["stage"] == "clean"
    # The e-mail's Subject and Date lines are not its words: "ok thanks" is 2 words.
    assert [row["detail"] for row in rows] == [
        "4 words < clean.length.min_words = 6",
        "2 words < clean.length.min_words = 6",
    ]
    assert rows[0]["doc_id"] == f"{1:016x}"


def test_unspaced_scripts_are_counted_by_character_and_kept():
    japanese = (
        "当社の品質方針は、すべての製品が出荷前に校正されることを求めています。詳細は品質管理部に確認してください。"
    )
    chinese = "所有传感器在出厂前必须完成校准，并保存校准记录至少五年。"
    kept, ledger = clean([japanese, chinese, "短い"])
    assert kept == [japanese, chinese]
    assert ledger["detail"].to_list() == ["2 words < clean.length.min_words = 6"]


def test_mixed_text_counts_both_kinds_of_words():
    from forge_core.clean.length import word_count

    counts = pl.DataFrame({"t": ["NW-100 の 校正", "three plain words", ""]}).select(word_count(pl.col("t")))
    assert counts.to_series().to_list() == [4, 3, 0]

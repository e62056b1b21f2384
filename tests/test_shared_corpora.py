"""forge curate on real text nobody here wrote: the Python docs as HTML and as reST, and Shakespeare."""

from __future__ import annotations

import posixpath

import polars as pl
import pytest
from conftest import SHARED
from flow_runs import WEB_RULES_OFF, ledger, run_curate

CORPORA = SHARED / "corpora"
pytestmark = pytest.mark.skipif(not (CORPORA / "python-docs").exists(), reason="needs ../shared/corpora")


@pytest.mark.slow
def test_curate_python_docs_finds_only_true_cross_format_duplicates(tmp_path):
    # About deduplication: without the web rules, which drop most reference pages (code, lists).
    result = run_curate([CORPORA], tmp_path, processes=True, clean=WEB_RULES_OFF)
    led = ledger(result)
    counts = result["counts"]
    assert counts["ingested"] == led.height == counts["kept"] + counts["dropped"] + counts["quarantined"]
    assert counts["kept"] > 900
    # the licence file has no suffix: quarantined, not skipped
    [q] = led.filter(pl.col("status") == "quarantined").to_dicts()
    assert q["source_uri"].endswith("python-docs/COPYING") and q["reason"] == "unsupported_format"

    uri_of = dict(zip(led["doc_id"], led["source_uri"], strict=True))
    near = led.filter(pl.col("reason") == "near_duplicate")
    assert near.height >= 5  # each reST source has its HTML build in the corpus
    for dup, survivor in near.select("source_uri", "detail").iter_rows():
        # every pair found is the same page in its two formats: no false positives
        stem = lambda u: posixpath.splitext(u.split("python-docs/", 1)[1].split("/", 1)[1])[0]  # noqa: E731
        assert stem(dup) == stem(uri_of[survivor]), (dup, uri_of[survivor])

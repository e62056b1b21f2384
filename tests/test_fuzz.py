"""Fuzzing: arbitrary bytes into every reader, arbitrary text into every cleaning step, arbitrary files
into ingest. Nothing raises out of a stage, and every input ends as exactly one outcome: a document
or a ledger row (a tabular file or an e-mail: one per record).

The readers and steps come from their tables (READERS, RULES), so a new format or rule is fuzzed
without a line here. Derandomized, without an example database, and with modest example counts: the
same examples on every run and in CI, in well under a minute.
"""

from __future__ import annotations

import hashlib
import io
import json
from functools import partial
from pathlib import Path

import polars as pl
import pytest
from documents import doc_frame, docx_bytes, eml_bytes, pdf_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forge_core.clean.pipeline import RULES, CleanConfig, clean_frame, clean_steps
from forge_core.config import IngestConfig
from forge_core.ingest import ingest_shard, read_file
from forge_core.io.sources import Fingerprint
from forge_core.io.workspace import Workspace
from forge_core.readers.dispatch import READERS, read_records
from forge_core.readers.extracted import Record, Unreadable
from forge_core.readers.limits import Watchdog

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
CFG = IngestConfig()


def _parquet() -> bytes:
    out = io.BytesIO()
    pl.DataFrame({"id": [1, 2], "text": ["first row", "second row"]}).write_parquet(out)
    return out.getvalue()


# A valid file of each format, to be broken in small ways: random bytes alone rarely get past a
# reader's first check (a PDF header, a zip directory).
SAMPLES = {
    "text": "Café crème, line one.\nLine two.".encode(),
    "markdown": b"# Title\n\nA paragraph with *emphasis*.\n\n- item",
    "rst": b"Title\n=====\n\nBody text.",
    "html": b"<html><body><nav>Home</nav><main><h1>Policy</h1><p>Claims within <b>30 days</b>.</p>"
    b"<table><tr><td>a</td><th>b</th></tr></table><ul><li>one</li></ul></main></body></html>",
    "pdf": pdf_bytes(["First page words", "Second page words"]),
    "docx": docx_bytes(["A paragraph."], table=[["part", "qty"], ["NW-1", "4"]]),
    "email": eml_bytes("Invoice", "Hello,\n\nOn Tue, 4 Mar 2025, Ana wrote:\n> quoted\n-- \nSig", "<p>Hello</p>"),
    "jsonl": b'{"text": "one"}\n{"body": "two"}\nnot json\n',
    "csv": b"id,text\n1,hello\n2,world\n",
    "parquet": _parquet(),
}
assert {fmt for fmt, _ in READERS.values()} <= set(SAMPLES), "a new format needs a sample here"

SPECIAL = [b"<", b">", b"\x00", b"\xff\xfe", b"%%EOF", b"\r\n", b'"', b"{", b"PK\x03\x04", b"<div>" * 8, b"\n\n"]


@st.composite
def broken(draw, sample: bytes) -> bytes:
    """The sample with a few bytes replaced, inserted, duplicated or cut off."""
    data = bytearray(sample)
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["replace", "truncate", "repeat", "insert"]))
        if edit == "replace":
            data[pos : pos + draw(st.integers(1, 8))] = draw(st.binary(max_size=8))
        elif edit == "truncate":
            del data[pos:]
        elif edit == "repeat":
            data[pos:pos] = data[draw(st.integers(0, len(data))) :][: draw(st.integers(1, 64))]
        else:
            data[pos:pos] = draw(st.sampled_from(SPECIAL))
    return bytes(data)


def file_bytes(fmt: str) -> st.SearchStrategy[bytes]:
    return st.one_of(broken(SAMPLES[fmt]), st.binary(max_size=256))


def _is_records(out: object) -> bool:
    return isinstance(out, list) and all(
        isinstance(r, Record) and (isinstance(r.text, str) or (r.text is None and r.reason)) for r in out
    )


@pytest.mark.parametrize("suffix", sorted(READERS))
def test_every_reader_returns_records_or_says_why_not(suffix):
    fmt = READERS[suffix][0]

    @settings(FUZZ, max_examples=40)
    @given(data=file_bytes(fmt))
    def read(data: bytes):
        try:
            out = read_records(f"file{suffix}", data, CFG)
        except Unreadable as e:
            assert e.reason and e.detail
            return
        assert _is_records(out)

    read()


# Cleaning ---------------------------------------------------------------------------------------------
WORDS = [
    "the", "invoice", "ana@example.com", "+44 20 7946 0958", "4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00",
    "-----BEGIN RSA PRIVATE KEY-----", "password=hunter2x", "eyJhbGciOi.eyJzdWIi.sig", "lorem", "ipsum",
    "2024-05-02 14:03", "ERROR", "[", "|", "©", "Ã©", "\u200b", "\r\n", "\n\n", "...", "…", "{", "中文", "Ωμέγα",
]  # fmt: skip
TEXTS = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=12)), max_size=80).map(" ".join),
    st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=40)), max_size=30).map("\n".join),
)

# Every rule on, every language judged: a rule left out of a profile is still fuzzed.
ALL_ON = CleanConfig.model_validate(
    {"quality_languages": []}
    | {rule.name: {"enabled": True} for rule in RULES if rule.config and "enabled" in rule.config.model_fields}
)
STEPS = dict(clean_steps(ALL_ON))


def test_the_fuzzed_steps_are_every_rule():
    assert {rule.name for rule in RULES} <= set(STEPS)


def _one_outcome_each(shard: pl.DataFrame, kept: pl.DataFrame, dropped: pl.DataFrame | None) -> None:
    out = kept["doc_id"].to_list() + ([] if dropped is None else dropped["doc_id"].to_list())
    assert sorted(out) == sorted(shard["doc_id"].to_list())
    assert kept["text"].dtype == pl.String and kept["text"].null_count() == 0


@pytest.mark.parametrize("name", [rule.name for rule in RULES])
def test_every_cleaning_step_keeps_or_drops_each_document_once(name):
    step = STEPS[name]

    @settings(FUZZ, max_examples=30)
    @given(texts=st.lists(TEXTS, min_size=1, max_size=4))
    def clean(texts: list[str]):
        shard = doc_frame(texts, stage="cleaned")
        result = step(shard)
        _one_outcome_each(shard, result.kept, result.dropped)

    clean()


@settings(FUZZ, max_examples=40)
@given(texts=st.lists(TEXTS, min_size=1, max_size=4))
def test_the_whole_cleaning_chain_keeps_or_drops_each_document_once(texts):
    shard = doc_frame(texts)
    out = clean_frame(shard, ALL_ON)
    _one_outcome_each(shard, out.kept, out.ledger)


# Ingest --------------------------------------------------------------------------------------------
SUFFIXES = [*sorted(READERS), ".bin", ""]


@st.composite
def source_file(draw) -> tuple[str, bytes]:
    suffix = draw(st.sampled_from(SUFFIXES))
    fmt = READERS[suffix][0] if suffix in READERS else None
    data = draw(file_bytes(fmt) if fmt else st.binary(max_size=256))
    return suffix, data


def _fingerprint(path: Path) -> Fingerprint:
    data = path.read_bytes()
    return Fingerprint("file://" + str(path), len(data), hashlib.sha256(data).hexdigest())


@pytest.fixture(scope="module")
def watchdog():
    with Watchdog(CFG.limits, preload=(read_records.__module__,)) as dog:
        yield dog


def _outcomes_of_one_file(uri: str, docs: list[dict], rows: list[dict]) -> None:
    assert docs or rows, "a file with neither a document nor a ledger row"
    ids = [d["doc_id"] for d in docs] + [r["doc_id"] for r in rows]
    assert len(ids) == len(set(ids)), "a record with two outcomes"
    assert all(d["source_file"] == uri for d in docs)
    assert all(r["source_uri"].split("#")[0] == uri and r["reason"] for r in rows)


@settings(FUZZ, max_examples=80)
@given(file=source_file())
def test_any_file_ends_as_documents_or_ledger_rows_through_the_watched_reader(file, tmp_path_factory, watchdog):
    suffix, data = file
    path = tmp_path_factory.mktemp("f") / f"file{suffix}"
    path.write_bytes(data)
    fp = _fingerprint(path)
    docs, rows = read_file(fp, CFG, partial(watchdog.call, read_records))
    _outcomes_of_one_file(fp.uri, docs, rows)
    assert (docs, rows) == read_file(fp, CFG), "the helper process reads as the worker itself would"


@settings(FUZZ, max_examples=6)
@given(files=st.lists(source_file(), min_size=1, max_size=6))
def test_an_ingest_shard_of_any_files_accounts_for_each(files, tmp_path_factory):
    root = tmp_path_factory.mktemp("shard")
    prints = []
    for i, (suffix, data) in enumerate(files):
        path = root / f"f{i}{suffix}"
        path.write_bytes(data)
        prints.append(_fingerprint(path))
    ws = Workspace(str(root / "ws"))
    counts = ingest_shard(ws, f"{ws.root}/out", prints, CFG)
    docs = pl.read_parquet(f"{ws.root}/out/docs.parquet")
    rows = pl.read_parquet(f"{ws.root}/out/ledger.parquet")
    assert counts.n_in == len(prints) and counts.n_kept == docs.height
    for fp in prints:
        _outcomes_of_one_file(
            fp.uri,
            docs.filter(pl.col("source_file") == fp.uri).to_dicts(),
            rows.filter(pl.col("source_uri").str.split("#").list.first() == fp.uri).to_dicts(),
        )
    assert json.dumps(counts.counts)  # what the stage reports is plain data

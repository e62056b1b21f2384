"""The tokenizer and token files: lossless, traceable to documents, split by doc_id."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from conftest import SHARED
from documents import doc_frame

from forge_core.io.shards import write_shard
from forge_core.io.workspace import Workspace
from forge_core.schema import DEDUPLICATED
from forge_core.tokenize import (
    EOT,
    PAD,
    TokenizeConfig,
    doc_at,
    encode_shard,
    load_tokens,
    split_of,
    token_dtype,
    train_tokenizer,
)

SHAKESPEARE = SHARED / "corpora" / "tinyshakespeare.txt"


@pytest.fixture(scope="module")
def speeches() -> list[str]:
    if SHAKESPEARE.exists():
        text = SHAKESPEARE.read_text()[:300_000]
    else:  # a user's clone without ../shared: still real, varied text
        text = " ".join(f"line {i} of the record, entry {i * 7 % 13}." for i in range(20_000))
    return [s.strip() for s in text.split("\n\n") if s.strip()]


@pytest.fixture(scope="module")
def tokenizer(speeches):
    return train_tokenizer(speeches, TokenizeConfig(vocab_size=1024))


def test_bpe_is_lossless_on_any_text_and_compresses_the_corpus(tokenizer, speeches):
    assert tokenizer.get_vocab_size() == 1024
    assert (tokenizer.token_to_id(EOT), tokenizer.token_to_id(PAD)) == (0, 1)
    for text in [*speeches[:50], "Zoë's café — 価格は¥1,200 🚀\n\ttabs", "<|endoftext|> as plain text"]:
        assert tokenizer.decode(tokenizer.encode(text, add_special_tokens=False).ids, skip_special_tokens=False) == text
    sample = "\n\n".join(speeches[:200])
    assert len(tokenizer.encode(sample).ids) < len(sample.encode()) / 2  # merges learned: over 2 bytes a token


def test_token_width_follows_the_vocabulary():
    assert token_dtype(65_536) == np.uint16 and token_dtype(65_537) == np.uint32


def test_split_is_a_stable_function_of_doc_id():
    ids = pl.Series([f"{i:016x}" for i in range(4000)])
    split = split_of(ids, 0.1)
    assert split.equals(split_of(ids.reverse(), 0.1).reverse())
    assert 0.08 < (split == "val").mean() < 0.12
    assert (split_of(ids, 0.0) == "train").all()


def test_encoded_shard_memory_maps_and_traces_every_token_to_its_document(tmp_path, tokenizer, speeches):
    ws = Workspace(str(tmp_path))
    texts = speeches[:300]
    n = len(texts)
    docs = doc_frame(texts, [f"file:///s/{i}" for i in range(n)], stage="cleaned")
    docs = docs.with_columns(text_hash=pl.Series([f"{i:032x}" for i in range(n)]))
    write_shard(ws, ws.path("kept.parquet"), docs, DEDUPLICATED)
    cfg = TokenizeConfig(vocab_size=1024, validation_fraction=0.2)
    report = encode_shard(ws, ws.path("tok"), ws.path("kept.parquet"), tokenizer.to_str(), cfg)

    index = pl.read_parquet(tmp_path / "tok" / "index.parquet")
    assert index.height == n and set(index["split"]) == {"train", "val"}
    for split in ("train", "val"):
        tokens = load_tokens(str(tmp_path / "tok" / f"{split}.bin"), 1024)
        assert tokens.dtype == np.uint16
        assert len(tokens) == report.counts[f"{split}.tokens"] == index.filter(pl.col("split") == split)["length"].sum()
        for doc_id, start, length in (
            index.filter(pl.col("split") == split).select("doc_id", "start", "length").head(20).iter_rows()
        ):
            text = texts[int(doc_id, 16)]
            assert tokens[start + length - 1] == 0  # each document ends with end-of-text
            assert tokenizer.decode(tokens[start : start + length - 1].tolist()) == text
            assert doc_at(index, split, start + length // 2) == doc_id  # any token traces to its document
    assert report.counts["val.bytes"] + report.counts["train.bytes"] == sum(len(t.encode()) for t in texts)
    with pytest.raises(IndexError):
        doc_at(index, "train", report.counts["train.tokens"])

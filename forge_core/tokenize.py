"""Tokenization: a byte-level BPE trained on the kept text, and flat token files that memory-map.

Each shard of kept documents becomes two arrays, train.bin and val.bin (uint16 while the
vocabulary fits, else uint32), each document followed by the end-of-text token, plus an index
of (doc_id, split, start, length, bytes) so that any training token traces back to its
document, and bits per byte can be computed from the bytes each split holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import polars as pl
from pydantic import Field

from forge_core.executor.work import ShardCounts, ShardReport
from forge_core.io.shards import read_shard
from forge_core.io.workspace import Workspace
from forge_core.section import Section

EOT = "<|endoftext|>"
PAD = "<|pad|>"
SPECIAL_TOKENS = [EOT, PAD]  # ids 0 and 1, whatever the corpus
SPLITS = ("train", "val")


class TokenizeConfig(Section):
    """The BPE tokenizer and the token files training reads."""

    vocab_size: int = Field(
        default=8192, ge=260, le=1 << 20, description="Tokens in the BPE vocabulary, special ones included."
    )
    min_frequency: int = Field(default=2, ge=1, description="A pair merges only if seen at least this often.")
    validation_fraction: float = Field(
        default=0.05, ge=0.0, lt=1.0, description="Share of documents (by a hash of doc_id) held out for validation."
    )


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.uint32)


def train_tokenizer(texts: Iterable[str], cfg: TokenizeConfig, length: int | None = None):
    """A byte-level BPE (GPT-2 style: every byte is in the alphabet, so no text is unknown)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=cfg.vocab_size,
        min_frequency=cfg.min_frequency,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer, length=length)
    return tokenizer


def split_of(doc_ids: pl.Series, validation_fraction: float) -> pl.Series:
    """'train' or 'val' from a hash of doc_id: stable across runs, shards and machines."""
    cut = int(validation_fraction * (1 << 32))
    held_out = [int(hashlib.sha256(d.encode()).hexdigest()[:8], 16) < cut for d in doc_ids]
    return pl.Series("split", ["val" if h else "train" for h in held_out], dtype=pl.String)


def encode_shard(
    ws: Workspace, folder: str, source: str, tokenizer_json: str, cfg: TokenizeConfig, eos_id: int | None = None
) -> ShardCounts:
    """Encode one shard of kept documents into train.bin, val.bin and index.parquet; each document
    ends with eos_id (a base's end-of-text token), or Forge's <|endoftext|>."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(tokenizer_json)
    eot = eos_id if eos_id is not None else tokenizer.token_to_id(EOT)
    if eot is None:
        raise ValueError(
            "the tokenizer has no <|endoftext|> and no eos_token_id was given: documents could not be separated"
        )
    dtype = token_dtype(tokenizer.get_vocab_size())
    docs = read_shard(ws, source, columns=["doc_id", "text"])
    docs = docs.with_columns(split_of(docs["doc_id"], cfg.validation_fraction))
    rows = []
    counts: dict[str, int] = {}
    for split in SPLITS:
        part = docs.filter(pl.col("split") == split)
        encodings = tokenizer.encode_batch_fast(part["text"].to_list(), add_special_tokens=False)
        lengths = np.array([len(e.ids) + 1 for e in encodings], dtype=np.int64)  # + end of text
        tokens = np.empty(int(lengths.sum()), dtype=dtype)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        for start, enc, n in zip(starts, encodings, lengths, strict=True):
            tokens[start : start + n - 1] = enc.ids
            tokens[start + n - 1] = eot
        ws.write_bytes(f"{folder}/{split}.bin", tokens.tobytes())
        rows.append(
            pl.DataFrame(
                {
                    "doc_id": part["doc_id"],
                    "split": part["split"],
                    "start": starts,
                    "length": lengths,
                    "bytes": part["text"].str.len_bytes().cast(pl.Int64),
                }
            )
        )
        counts[f"{split}.documents"] = part.height
        counts[f"{split}.tokens"] = int(lengths.sum())
        counts[f"{split}.bytes"] = int(rows[-1]["bytes"].sum())
    index = pl.concat(rows)
    with ws.fs.open(f"{folder}/index.parquet", "wb") as f:
        index.write_parquet(f, compression="zstd")
    return ShardCounts(docs.height, docs.height, counts)


def load_tokens(path: str, vocab_size: int) -> np.memmap:
    """A token file as a read-only memory map: training never loads it whole."""
    return np.memmap(path, dtype=token_dtype(vocab_size), mode="r")


def doc_at(index: pl.DataFrame, split: str, offset: int) -> str:
    """The doc_id that token `offset` of a shard's split file belongs to."""
    part = index.filter(pl.col("split") == split).sort("start")
    row = int(np.searchsorted(part["start"].to_numpy(), offset, side="right")) - 1
    if row < 0 or offset >= part["start"][row] + part["length"][row]:
        raise IndexError(f"offset {offset} is outside the {split} tokens of this shard")
    return part["doc_id"][row]


def kept_shards(ws: Workspace, dataset_id: str) -> list[str]:
    """The kept-document shards of a dataset version, in order."""
    return sorted(ws.fs.glob(f"{ws.dataset_dir(dataset_id)}/shards/part-*.parquet"))


def kept_texts(ws: Workspace, shards: list[str]) -> Iterator[str]:
    """Stream the kept text shard by shard, so tokenizer training never holds the corpus twice."""
    for path in shards:
        yield from read_shard(ws, path, columns=["text"])["text"]


def token_manifest(reports: list[ShardReport], vocab_size: int) -> dict[str, Any]:
    """What training needs to know about the token files: where, how wide, and how much per split."""
    totals = {
        split: {
            key: sum(r.counts.get(f"{split}.{key}", 0) for r in reports) for key in ("documents", "tokens", "bytes")
        }
        for split in SPLITS
    }
    return {
        "vocab_size": vocab_size,
        "dtype": token_dtype(vocab_size).name,
        "shards": [r.folder for r in reports],
        **totals,
    }


def read_index(ws: Workspace, manifest: dict[str, Any]) -> pl.DataFrame:
    """Every shard's document index, with the shard number, so a global token offset can be traced."""
    frames = []
    for i, folder in enumerate(manifest["shards"]):
        with ws.fs.open(f"{folder}/index.parquet", "rb") as f:
            frames.append(pl.read_parquet(f).with_columns(pl.lit(i).alias("shard")))
    return pl.concat(frames) if frames else pl.DataFrame()

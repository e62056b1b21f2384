"""A dataset version's token folder built from tinyshakespeare, as the tokenize stage lays it out:
part-*/ shards, manifest.json and tokenizer.json, so tests can train on real text."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import polars as pl

from forge_core.executor import run_once
from forge_core.io.workspace import Workspace
from forge_core.tokenize import TokenizeConfig, encode_shard, token_manifest, train_tokenizer


def shakespeare_tokens(corpus: Path, root: Path, vocab_size: int = 1024, shards: int = 2) -> dict[str, Any]:
    """Speeches as documents, split over `shards` shards so batches cross from one token file to the next."""
    ws = Workspace(str(root))
    speeches = [s for s in corpus.read_text().split("\n\n") if s.strip()]
    cfg = TokenizeConfig(vocab_size=vocab_size, validation_fraction=0.1)
    tokenizer = train_tokenizer(speeches, cfg)
    docs = pl.DataFrame({"doc_id": [f"{i:016x}" for i in range(len(speeches))], "text": speeches})
    reports = []
    for i in range(shards):
        part = docs[i * len(docs) // shards : (i + 1) * len(docs) // shards]
        buf = io.BytesIO()
        part.write_parquet(buf)
        ws.write_bytes(ws.path(f"docs-{i}.parquet"), buf.getvalue())
        source = ws.path(f"docs-{i}.parquet")
        work = lambda folder, source=source: encode_shard(ws, folder, source, tokenizer.to_str(), cfg)  # noqa: E731
        reports.append(run_once(ws, "tokenize", i, ws.path(f"tokens/part-{i:05d}"), work))
    manifest = token_manifest(reports, tokenizer.get_vocab_size())
    (root / "tokens" / "manifest.json").write_text(json.dumps(manifest))
    (root / "tokens" / "tokenizer.json").write_text(tokenizer.to_str())
    return manifest | {"root": str(root), "folder": str(root / "tokens")}

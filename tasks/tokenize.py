from __future__ import annotations

import hashlib
import time
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from forge_core.config import ForgeConfig
from forge_core.executor import ShardInput, map_stage
from forge_core.integrity import journal
from forge_core.integrity.digests import sha256_of, token_digests
from forge_core.io.workspace import Workspace
from forge_core.tokenize import encode_shard, kept_shards, kept_texts, token_manifest, train_tokenizer
from tasks.artifacts import publish_stage, shard_progress, stage_summary


@task(name="tokenize-dataset", cache_policy=NO_CACHE)
def tokenize_dataset(
    ws: Workspace, cfg: ForgeConfig, client: Any, dataset_id: str, base: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Train the BPE on the kept text (or take a base's tokenizer), then encode every shard on Dask
    into memory-mapped token files.

    The tokenizer settings (or the base tokenizer's sha256) are part of the dataset_id, so the
    tokenizer.json and the token files belong to the dataset version; a finished manifest means
    both can be reused as they are.
    """
    start = time.perf_counter()
    log = get_run_logger()
    out = ws.tokens_dir(dataset_id)
    if ws.exists(f"{out}/manifest.json"):
        log.info("token files of %s are complete; reusing them", dataset_id)
        return ws.read_json(f"{out}/manifest.json")

    shards = kept_shards(ws, dataset_id)
    tokenizer_path = f"{ws.dataset_dir(dataset_id)}/tokenizer.json"
    if base is not None:
        log.info("tokenizing with the tokenizer of %s version %s (no BPE training)", base["name"], base["version"])
        ws.write_text(tokenizer_path, base["tokenizer_json"])
    elif not ws.exists(tokenizer_path):
        log.info("training a %d-token BPE on the kept text of %d shards", cfg.tokenize.vocab_size, len(shards))
        ws.write_text(tokenizer_path, train_tokenizer(kept_texts(ws, shards), cfg.tokenize).to_str())
    with ws.fs.open(tokenizer_path, "r", encoding="utf-8") as f:
        tokenizer_json = f.read()

    eos = base["eos_id"] if base is not None else None
    inputs = [ShardInput(i, path, (path, tokenizer_json, cfg.tokenize, eos)) for i, path in enumerate(shards)]
    # The token files belong to the dataset version: they go into its folder, not the cache.
    folders = [f"{out}/part-{i:05d}" for i in range(len(shards))]
    reports = map_stage(
        client, ws, "tokenize", encode_shard, inputs, None, folders=folders, on_progress=shard_progress("tokenize")
    )
    from tokenizers import Tokenizer

    manifest = token_manifest(reports, Tokenizer.from_str(tokenizer_json).get_vocab_size())
    manifest["tokenizer"] = ws.display(tokenizer_path)
    manifest["tokenizer_sha256"] = hashlib.sha256(tokenizer_json.encode()).hexdigest()
    if base is not None:
        manifest["base"] = {"name": base["name"], "version": base["version"], "eos_id": eos}
    summary = stage_summary("tokenize", reports, time.perf_counter() - start)
    manifest["seconds"] = summary["seconds"]
    manifest["digests"] = token_digests(ws, dataset_id)  # what `forge verify` checks
    ws.write_json(f"{out}/manifest.json", manifest)
    journal.append(ws, "tokenize", dataset_id=dataset_id, tokens_manifest_sha256=sha256_of(ws, f"{out}/manifest.json"))
    kind = "The base tokenizer" if base else "Byte-level BPE"
    publish_stage(
        summary,
        f"{kind} of {manifest['vocab_size']} tokens; {manifest['train']['tokens']} training and "
        f"{manifest['val']['tokens']} validation tokens.",
    )
    return manifest

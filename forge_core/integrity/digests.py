"""sha256 of the files a record vouches for, keyed by their path inside the record's folder.

A dataset version's manifest lists its ledger, shards, stats, config and report; its token
manifest lists every token file and the tokenizer; a registered model version is tagged with the
digest of its weights and of its dataset's manifest. Paths are relative, so a copied or moved
workspace verifies as it did where it was written.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from typing import Any

from forge_core.io.workspace import Workspace

CHUNK = 1 << 20
# The files of a dataset version its manifest vouches for (the manifest itself is checked by the
# digest a model version, or the journal, records of it).
DATASET_FILES = ("ledger.parquet", "stats.json", "config.yaml", "report.md", "README.md")


def sha256_of(ws: Workspace, path: str) -> str:
    h = hashlib.sha256()
    with ws.fs.open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def digest_of(obj: Any) -> str:
    """sha256 of a JSON value written canonically (sorted keys, no spaces): a record's own digest."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def folder_digests(ws: Workspace, folder: str, names: list[str]) -> dict[str, str]:
    return {name: sha256_of(ws, posixpath.join(folder, name)) for name in sorted(names)}


def dataset_digests(ws: Workspace, dataset_id: str) -> dict[str, str]:
    """The ledger, every kept shard, and the version's stats, config and report."""
    folder = ws.dataset_dir(dataset_id)
    shards = sorted(ws.fs.glob(f"{folder}/shards/*.parquet"))
    names = [n for n in DATASET_FILES if ws.exists(posixpath.join(folder, n))]
    names += [posixpath.relpath(s, folder) for s in shards]
    return folder_digests(ws, folder, names)


def token_digests(ws: Workspace, dataset_id: str) -> dict[str, str]:
    """Every file under tokens/ but its manifest, and the tokenizer, relative to the dataset folder."""
    folder = ws.dataset_dir(dataset_id)
    files = [p for p in ws.fs.find(ws.tokens_dir(dataset_id)) if posixpath.basename(p) != "manifest.json"]
    names = [posixpath.relpath(p, folder) for p in files] + ["tokenizer.json"]
    return folder_digests(ws, folder, names)


def manifest_digest(ws: Workspace, dataset_id: str) -> str:
    return sha256_of(ws, f"{ws.dataset_dir(dataset_id)}/manifest.json")

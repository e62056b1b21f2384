"""The workspace: every file a run writes lives under one root, a local folder or an fsspec URL.

Paths are built here and nowhere else, so the layout in DESIGN.md is one screen of code.
"""

from __future__ import annotations

import json
import posixpath
import uuid
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem


class Workspace:
    """A root on some filesystem, with the layout of datasets/, cache/ and the service stores."""

    def __init__(self, root: str):
        self.url = root
        self.fs, path = fsspec.core.url_to_fs(root)
        self.is_local = isinstance(self.fs, LocalFileSystem)
        self.root = self.fs._strip_protocol(path) if not self.is_local else posixpath.abspath(path)
        self.fs.makedirs(self.root, exist_ok=True)

    def __reduce__(self):  # travel to Dask workers as the URL, not as an open filesystem
        return (Workspace, (self.url if not self.is_local else self.root,))

    def path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def display(self, path: str) -> str:
        """A path as a user can paste it: plain for local folders, with the protocol otherwise."""
        return path if self.is_local else self.fs.unstrip_protocol(path)

    # Layout ---------------------------------------------------------------------------------
    def cache_dir(self, stage: str, key: str) -> str:
        return self.path("cache", stage, key)

    def dataset_dir(self, dataset_id: str) -> str:
        return self.path("datasets", dataset_id)

    def dataset_shard(self, dataset_id: str, index: int) -> str:
        return self.path("datasets", dataset_id, "shards", f"part-{index:05d}.parquet")

    def prefect_home(self) -> str:
        return self.path("prefect")

    def mlflow_dir(self) -> str:
        return self.path("mlflow")

    def tokens_dir(self, dataset_id: str) -> str:
        return self.path("datasets", dataset_id, "tokens")

    def training_dir(self, run_id: str) -> str:
        return self.path("training", run_id)

    # Small files ----------------------------------------------------------------------------
    def exists(self, path: str) -> bool:
        return self.fs.exists(path)

    def write_bytes(self, path: str, data: bytes) -> None:
        """Write via a temporary name and rename, so a crash never leaves a half-written file."""
        self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp-{uuid.uuid4().hex}"
        with self.fs.open(tmp, "wb") as f:
            f.write(data)
        self.fs.mv(tmp, path)

    def write_text(self, path: str, text: str) -> None:
        self.write_bytes(path, text.encode("utf-8"))

    def write_json(self, path: str, obj: Any) -> None:
        self.write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")

    def read_json(self, path: str) -> Any:
        with self.fs.open(path, "rb") as f:
            return json.loads(f.read())

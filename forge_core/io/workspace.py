"""The workspace: every file a run writes lives under one root, a local folder or an fsspec URL.

Paths are built here and nowhere else, so the layout in DESIGN.md is one screen of code.

An object-store workspace (`s3://bucket/prefix`) is reached with the store's standard settings,
not Forge's: for S3, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION and, for an
S3-compatible store (MinIO, Ceph, ...), AWS_ENDPOINT_URL, read by botocore in every process that
touches the workspace. Dask workers of a LocalCluster inherit them from `forge`; the workers of an
existing cluster need the same variables where they were started. The bucket must exist: Forge
never creates one.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import posixpath
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

# Stores where writing an object is atomic (it appears whole or not at all) and folders are only
# key prefixes: a write needs neither a temporary name nor a folder made first.
OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"}


class WorkspaceError(ValueError):
    """The workspace cannot be used as given; the message names it and what to fix."""


class Workspace:
    """A root on some filesystem, with the layout of datasets/, cache/ and the service stores."""

    def __init__(self, root: str, create: bool = True):
        self.url = root
        self.object_store = fsspec.utils.get_protocol(root) in OBJECT_STORES
        # The flow and every Dask worker write into the same folders. s3fs answers exists() and
        # glob() from listings it cached earlier, which would hide another process's writes (and a
        # worker of an existing cluster lives for days), so an object store is always listed afresh.
        options = {"use_listings_cache": False} if self.object_store else {}
        self.fs, path = fsspec.core.url_to_fs(root, **options)
        self.is_local = isinstance(self.fs, LocalFileSystem)
        self.root = self.fs._strip_protocol(path) if not self.is_local else posixpath.abspath(path)
        if create:
            self._create()

    def __reduce__(self):  # travel to Dask workers as the URL, not as an open filesystem; created already
        return (Workspace, (self.url if not self.is_local else self.root, False))

    def _create(self) -> None:
        if self.is_local:
            self._create_folder()
            return
        if not self.object_store:  # another fsspec filesystem (memory://, ...): folders as it makes them
            self.fs.makedirs(self.root, exist_ok=True)
            return
        # s3fs's makedirs would create a missing bucket: a typo would then curate into a new bucket
        # with the account's default policy, so a missing bucket is an error instead.
        bucket = self.root.split("/", 1)[0]
        if not self.fs.exists(bucket):
            raise WorkspaceError(
                f"workspace {self.url}: bucket {bucket!r} does not exist or these credentials cannot list it; "
                "create it (Forge never creates buckets), or check the endpoint and credentials "
                "(for S3: AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
            )

    def _create_folder(self) -> None:
        """Make the folder and prove it takes a file, before any server or worker depends on it: a
        read-only workspace found only when the first shard is written costs minutes and ends in
        someone else's error (a Prefect server that could not open its database)."""
        if self.fs.exists(self.root) and not self.fs.isdir(self.root):
            raise WorkspaceError(
                f"workspace {self.root} is a file, not a folder; give a folder (it is created if missing)"
            )
        try:
            self.fs.makedirs(self.root, exist_ok=True)
            probe = self.path(f".write-probe-{uuid.uuid4().hex}")
            with open(probe, "wb") as f:
                f.write(b"forge")
            os.remove(probe)
        except OSError as e:
            why = e.strerror or str(e)
            if e.errno == errno.ENOTDIR:
                why += ": a folder above it is a file"
            raise WorkspaceError(
                f"workspace {self.root} is not writable ({why}); give a folder this user can write to, "
                "or fix its permissions or mount"
            ) from e

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

    def mlflow_dir(self) -> str:
        return self.path("mlflow")

    def tokens_dir(self, dataset_id: str) -> str:
        return self.path("datasets", dataset_id, "tokens")

    def training_dir(self, run_id: str) -> str:
        return self.path("training", run_id)

    # Small files ----------------------------------------------------------------------------
    def exists(self, path: str) -> bool:
        return self.fs.exists(path)

    def makedirs(self, folder: str) -> None:
        if not self.object_store:  # an object store's folders are key prefixes: nothing to make
            self.fs.makedirs(folder, exist_ok=True)

    def write_bytes(self, path: str, data: bytes) -> None:
        """Write so that a crash never leaves a half-written file: one PUT on an object store (atomic
        there; a rename would be a copy and a delete), else a temporary name and a rename."""
        if self.object_store:
            self.fs.pipe_file(path, data)
            return
        self.makedirs(posixpath.dirname(path))
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

    # Locks ----------------------------------------------------------------------------------
    @contextmanager
    def lock(self, name: str, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        """Hold <workspace>/locks/<name>.lock exclusively; `on_wait` runs once if another holds it.

        flock(2): the kernel releases the lock when its holder's process ends, however it ends, so a
        run killed while holding it never blocks the next. An object store has no such lock: there
        two runs of the same inputs both work and write the same content-keyed files.
        """
        if not self.is_local:
            yield
            return
        folder = self.path("locks")
        os.makedirs(folder, exist_ok=True)
        with open(posixpath.join(folder, f"{name}.lock"), "a+b") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait is not None:
                    on_wait()
                fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

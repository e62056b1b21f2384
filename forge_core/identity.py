"""Identity: how documents, shards and dataset versions are named, so that reruns find them again.

doc_id depends on where a document came from and on its exact bytes; a dataset_id depends on the
inputs, the settings that shape the data, and the code, so the same inputs give the same id and a
changed rule gives a new one.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import forge_core


def digest(*parts: Any, length: int = 16) -> str:
    """A short stable hash of JSON-serialisable parts (order matters)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, default=str, separators=(",", ":")).encode())
        h.update(b"\x00")
    return h.hexdigest()[:length]


def doc_id(source_uri: str, raw_sha256: str) -> str:
    return hashlib.sha256(f"{source_uri}\n{raw_sha256}".encode()).hexdigest()[:16]


@cache
def code_version() -> str:
    """The package version plus a hash of forge_core's source, so an audit names the exact code."""
    root = Path(forge_core.__file__).parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return f"{forge_core.__version__}+{h.hexdigest()[:12]}"


def dataset_id(inputs: list[tuple[str, str]], settings: dict[str, Any], suites_digest: str) -> str:
    """inputs: (source_uri, raw_sha256) of every source file; settings: ForgeConfig.data_settings()."""
    return "ds-" + digest(sorted(inputs), settings, suites_digest, code_version())

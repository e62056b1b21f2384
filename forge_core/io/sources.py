"""Finding source files and fingerprinting their bytes.

Discovery recurses folders and returns every file, whatever its type: a file no reader
understands still becomes a ledger row (quarantined as unsupported_format), never a silent skip.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import fsspec


class SourceError(ValueError):
    """A SOURCE argument that names nothing readable; the message names it."""


@dataclass(frozen=True, order=True)
class SourceFile:
    uri: str  # fsspec URI, file:///... for local files
    size: int


@dataclass(frozen=True)
class Fingerprint:
    uri: str
    size: int
    raw_sha256: str | None  # None when the file could not be read at all
    error: str | None = None


def discover(sources: list[str]) -> list[SourceFile]:
    """Every file under each source (file or folder), once, in a stable order."""
    if not sources:
        raise SourceError("no SOURCE given: name at least one file or folder to curate")
    found: dict[str, SourceFile] = {}
    for source in sources:
        fs, path = fsspec.core.url_to_fs(source)
        if not fs.exists(path):
            raise SourceError(f"{source}: no such file or folder")
        entries = fs.find(path, withdirs=False, detail=True) if fs.isdir(path) else {path: fs.info(path)}
        for p, info in entries.items():
            if info.get("type") == "directory":
                continue
            uri = fs.unstrip_protocol(p)
            found[uri] = SourceFile(uri=uri, size=int(info.get("size") or 0))
    if not found:
        raise SourceError(f"no documents found in {', '.join(sources)}: no files there (is it the right folder?)")
    return sorted(found.values())


def fingerprint(files: list[SourceFile], chunk_bytes: int = 1 << 20) -> list[Fingerprint]:
    """sha256 of each file's bytes, streamed so a large file never sits whole in memory."""
    out = []
    for f in files:
        h = hashlib.sha256()
        try:
            with fsspec.open(f.uri, "rb") as fh:
                while chunk := fh.read(chunk_bytes):
                    h.update(chunk)
        except OSError as e:
            out.append(Fingerprint(f.uri, f.size, None, f"{type(e).__name__}: {e}"))
            continue
        out.append(Fingerprint(f.uri, f.size, h.hexdigest()))
    return out


def plan_shards(items: list, sizes: list[int], max_items: int, max_bytes: int) -> list[list]:
    """Cut an ordered list into shards bounded by item count and total bytes."""
    shards: list[list] = []
    current: list = []
    current_bytes = 0
    for item, size in zip(items, sizes, strict=True):
        if current and (len(current) >= max_items or current_bytes + size > max_bytes):
            shards.append(current)
            current, current_bytes = [], 0
        current.append(item)
        current_bytes += size
    if current:
        shards.append(current)
    return shards

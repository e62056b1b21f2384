"""Find the source files and fingerprint their bytes, which names the dataset version."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from forge_core.executor import map_shards
from forge_core.io.sources import Fingerprint, SourceFile, discover, fingerprint, plan_shards


@task(name="discover-sources", cache_policy=NO_CACHE)
def discover_sources(sources: list[str]) -> list[SourceFile]:
    return discover(sources)


@task(name="fingerprint-sources", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def fingerprint_sources(client: Any, files: list[SourceFile]) -> list[Fingerprint]:
    """sha256 of every file, in parallel; retried because network filesystems hiccup."""
    chunks = plan_shards(files, [f.size for f in files], max_items=64, max_bytes=256 << 20)
    results = map_shards(client, fingerprint, chunks, desc="fingerprint")
    return [fp for chunk in results for fp in chunk]

"""The cluster's map: every shard once, results in shard order, and the costliest shards started first
(so that a run does not end with one worker reading a big shard while the others idle)."""

from __future__ import annotations

import threading
import time

from forge_core.executor import DaskConfig, open_cluster
from forge_core.executor.cluster import map_shards
from forge_core.ingest import READ_COST, TEXT_COST, shard_cost
from forge_core.io.sources import Fingerprint

_started: list[str] = []
_lock = threading.Lock()


def _record(item: str) -> str:
    with _lock:
        _started.append(item)
    time.sleep(0.05)
    return item.upper()


def test_the_costliest_shards_start_first_and_results_keep_the_shard_order():
    items = ["a", "b", "c", "d", "e"]
    cost = [1.0, 50.0, 3.0, 50.0, 20.0]
    _started.clear()
    with open_cluster(DaskConfig(n_workers=1, threads_per_worker=1, processes=False)) as client:
        assert map_shards(client, _record, items, desc="test", cost=cost) == ["A", "B", "C", "D", "E"]
        assert _started == ["b", "d", "e", "c", "a"]  # by cost, ties in shard order
        _started.clear()
        assert map_shards(client, _record, items, desc="test") == ["A", "B", "C", "D", "E"]
        assert sorted(_started) == items


def test_an_html_shard_costs_more_than_a_text_shard_of_the_same_bytes():
    html = [Fingerprint(f"file:///c/{i}.html", 100_000, "0" * 64) for i in range(10)]
    text = [Fingerprint(f"file:///c/{i}.rst", 100_000, "0" * 64) for i in range(10)]
    assert READ_COST["html"] / TEXT_COST >= 50
    assert shard_cost(html) > 10 * shard_cost(text)  # trafilatura's ~0.8 CPU-s per MB against decoding's ~0.005
    assert shard_cost(text + html[:1]) > shard_cost(text)

"""Where shard work runs: a Dask LocalCluster on this machine, or an existing cluster by address.

What runs (a function over one shard) is kept apart from where it runs, so the same stage
function serves a laptop, a cluster and a unit test.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pydantic import Field

from forge_core.section import Section


class DaskConfig(Section):
    """Where the data work runs."""

    address: str | None = Field(
        default=None, description="Scheduler address of an existing cluster; empty starts a LocalCluster."
    )
    n_workers: int | None = Field(default=None, gt=0, description="LocalCluster workers; empty = CPU cores.")
    threads_per_worker: int = Field(default=1, gt=0, description="Threads per LocalCluster worker.")
    processes: bool = Field(default=True, description="LocalCluster workers as processes (false: threads).")


_early: dict[str, Any] = {}  # LocalClusters started ahead of the open_cluster that will take them, by settings


def start_early(cfg: DaskConfig) -> None:
    """Start now the LocalCluster that open_cluster(cfg) will want, so that its start-up overlaps
    other waiting (`forge curate` starts it while Prefect's server starts). Nothing with an address."""
    key = cfg.model_dump_json()
    if not cfg.address and key not in _early:
        _early[key] = _local_cluster(cfg)


def close_early() -> None:
    """Close clusters started early that no open_cluster took (the flow failed before it opened one)."""
    while _early:
        _early.popitem()[1].close()


@contextmanager
def open_cluster(cfg: DaskConfig) -> Iterator[Any]:
    """A connected dask.distributed Client; a LocalCluster it started (or took from start_early) is
    closed on exit."""
    from distributed import Client

    _quiet_logs()
    if cfg.address:
        with Client(cfg.address, timeout="30s") as client:
            yield client
        return
    cluster = _early.pop(cfg.model_dump_json(), None) or _local_cluster(cfg)
    with cluster, Client(cluster) as client:
        yield client


def _quiet_logs() -> None:
    # The orchestrator's console handler would otherwise print every scheduler and worker event at INFO.
    logging.getLogger("distributed").setLevel(logging.WARNING)
    # A peer-to-peer shuffle (dedup's) logs its start and end at WARNING; they are not problems.
    logging.getLogger("distributed.shuffle").setLevel(logging.ERROR)


def _local_cluster(cfg: DaskConfig) -> Any:
    import dask
    from distributed import LocalCluster

    _quiet_logs()
    workers = cfg.n_workers or os.cpu_count() or 1
    # Dask starts workers with MALLOC_TRIM_THRESHOLD_=64 KiB, which also switches off glibc's
    # adaptive mmap threshold: every array over 128 KiB is then mmap'd and its pages faulted in
    # anew, which made dedup's signing twice as slow. Large blocks up to 32 MiB are reused from
    # the heap instead, and free memory over 64 MiB is still handed back to the system.
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    environ |= {"MALLOC_TRIM_THRESHOLD_": 64 << 20, "MALLOC_MMAP_THRESHOLD_": 32 << 20}
    # Loopback TCP even for thread workers: Dask's in-process transport probes a public address
    # (a UDP connect to 8.8.8.8) to learn its own IP, and nothing here may even look outside.
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=cfg.threads_per_worker,
            processes=cfg.processes,
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,
            protocol="tcp://",
            host="127.0.0.1",
        )


def map_shards(
    client: Any,
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    desc: str,
    on_progress: Callable[[int, int], None] | None = None,
    cost: Sequence[float] | None = None,
) -> list[Any]:
    """fn(item) for every item on the cluster, with a progress bar; results in item order.

    on_progress(done, total) hears of every finished shard (the orchestrator shows it in its UI).
    cost: an estimate of each item's work; the costliest start first (a Dask priority), so the
    last ones to run are short and no worker idles long while another finishes a big one. It
    changes when items run, never what they return.
    """
    from distributed import as_completed
    from tqdm import tqdm

    if not items:
        return []
    if cost is not None and len(cost) != len(items):
        raise ValueError(f"{desc}: {len(cost)} costs for {len(items)} items")
    if cost is None:
        futures = client.map(fn, items, pure=False, retries=1)
        position = {f.key: i for i, f in enumerate(futures)}
    else:
        order = sorted(range(len(items)), key=lambda i: -cost[i])  # stable: ties keep their order
        futures = [
            client.submit(fn, items[i], pure=False, retries=1, priority=len(items) - rank)
            for rank, i in enumerate(order)
        ]
        position = {f.key: i for f, i in zip(futures, order, strict=True)}
    results: list[Any] = [None] * len(items)
    with tqdm(total=len(items), desc=desc, unit="shard", file=sys.stderr, leave=False) as bar:
        for future in as_completed(futures):
            results[position[future.key]] = future.result()
            bar.update(1)
            if on_progress is not None:
                on_progress(bar.n, len(items))
    return results

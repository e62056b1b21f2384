"""Where a run's time goes: wall seconds per phase, so a slow run explains itself.

A curation is more than its stages: the process starting (imports, Prefect's server), the Dask
cluster starting, fingerprinting, each validation gate, publishing. Each is timed here and the
table goes into stats.json, the dataset report and a Prefect artifact. "start-up" is the time from
the process's start to the flow's first line, as the operating system counts it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil


class Phases:
    def __init__(self, start_up: float | None = None) -> None:
        self.seconds: dict[str, float] = {}
        if start_up is not None:
            self.seconds["start-up"] = round(start_up, 2)
        self._last = time.perf_counter()

    @classmethod
    def since_process_start(cls) -> Phases:
        return cls(max(0.0, time.time() - psutil.Process().create_time()))

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = round(self.seconds.get(name, 0.0) + seconds, 2)
        self._last = time.perf_counter()

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        begun = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - begun)

    def since_last(self, name: str) -> None:
        """What passed since the last phase ended (a cluster closing at the end of a block)."""
        self.add(name, time.perf_counter() - self._last)


def phases_markdown(seconds: dict[str, float]) -> str:
    """The phases as a table, with each one's share of their sum."""
    total = sum(seconds.values()) or 1.0
    lines = ["| phase | seconds | share |", "| --- | ---: | ---: |"]
    lines += [f"| {name} | {s:,.2f} | {s / total:.0%} |" for name, s in seconds.items()]
    lines.append(f"| **total** | **{sum(seconds.values()):,.2f}** | |")
    return "\n".join(lines)

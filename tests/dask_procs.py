"""A Dask cluster as a data team runs one: `dask scheduler` and `dask worker` processes, on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def external_cluster(workers: int = 2) -> Iterator[str]:
    """Start a scheduler and `workers` one-thread workers on 127.0.0.1; yield the scheduler address."""
    from distributed import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dask = Path(sys.executable).parent / "dask"
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", "127.0.0.1:0"]
    procs = [subprocess.Popen(scheduler, **quiet)]
    try:
        time.sleep(2)
        for i in range(workers):
            cmd = [dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--name", f"w{i}"]
            procs.append(subprocess.Popen([*cmd, "--dashboard-address", "127.0.0.1:0"], **quiet))
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(timeout=30)

"""What a flow command does before its flow, side by side rather than one after another.

Prefect's temporary server takes seconds to come up: a subprocess that imports the server and
migrates its database, while this process only polls it. In that time this process loads Great
Expectations for the first gate; the Dask cluster the flow will take starts right after the server
is up (forge_core.executor.start_early), before the flow's first line. The server is started by a
thread that also marks runs left Running by dead processes as crashed (forge/crashes.py), and the
flow starts only when that is done, as before.

The modules the thread needs are imported here first, in this thread, so that the two threads
never import the same modules at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from forge_core.config import ForgeConfig


@contextmanager
def overlapped_start(cfg: ForgeConfig, mlflow: bool = False) -> Iterator[None]:
    """Enter when the orchestrator is up and crashed runs are marked (meanwhile the gates' library
    loaded) and the flow's cluster has started. A cluster started here that no flow took is closed on the way out."""
    from prefect.client.orchestration import get_client  # noqa: F401
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():  # a team server is not started here: its module is not needed
        import prefect.server.api.server  # noqa: F401  (the temporary server's own module, 1-2 s)

    from forge.crashes import mark_crashed_runs
    from forge_core.executor import close_early, start_early
    from forge_core.validate import preload

    failed: list[BaseException] = []

    def orchestrator() -> None:
        try:
            mark_crashed_runs(mlflow=mlflow)
        except BaseException as e:  # noqa: BLE001  (raised again in the command's thread)
            failed.append(e)

    thread = threading.Thread(target=orchestrator, name="forge-orchestrator-start", daemon=True)
    thread.start()
    try:
        if cfg.validation.enabled:
            preload()
        thread.join()
        if failed:
            raise failed[0]
        # The cluster starts once the server is up: one started beside a server that then failed
        # printed its workers' heartbeat errors on the way out, past the one `error:` line.
        start_early(cfg.dask)
        yield
    finally:
        close_early()

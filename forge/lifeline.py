"""Nothing Forge starts outlives it, even when Forge is killed with SIGKILL.

Forge starts servers and workers it does not always own directly: Prefect starts its embedded
server itself, Dask its nannies and their workers, `mlflow server` its uvicorn. A parent-death
signal (prctl PR_SET_PDEATHSIG) would reach only the direct children that Forge spawns itself, and
none of their children. So a `forge` command that may start processes also starts a watchdog: a
small process in a session of its own that holds the read end of a pipe whose write end only the
`forge` process holds. The kernel closes that end when `forge` exits, however it exits, and the
watchdog reads end-of-file. Meanwhile it records every descendant of `forge` (every 0.2 s, with
its start time, so a recycled pid is never mistaken for one of them); at end-of-file it sends
SIGTERM to those still alive, waits up to STOP_GRACE_S, and SIGKILLs what remains. A process both
started and orphaned within one polling interval could escape; in practice servers and workers
take seconds to start.

On a normal exit the commands have already stopped what they started; the watchdog then finds
nothing alive and exits.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil

POLL_S = 0.2
STOP_GRACE_S = 10.0
_pipe_write_end: int | None = None


def start_watchdog() -> None:
    """Start the watchdog for this process (once); it outlives us only long enough to clean up."""
    global _pipe_write_end
    if _pipe_write_end is not None or sys.platform != "linux":
        return
    read_end, write_end = os.pipe()  # neither end is inherited by any other child (PEP 446)
    subprocess.Popen(
        [sys.executable, "-m", "forge.lifeline", str(os.getpid()), str(read_end)],
        pass_fds=(read_end,),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C to the terminal's process group leaves it to do its job
    )
    os.close(read_end)
    _pipe_write_end = write_end
    # A child forked without exec (a DataLoader worker) would keep the pipe open and the watchdog waiting.
    os.register_at_fork(after_in_child=_close_in_child)


def _close_in_child() -> None:
    global _pipe_write_end
    if _pipe_write_end is not None:
        os.close(_pipe_write_end)
        _pipe_write_end = None


def watch(parent_pid: int, read_end: int) -> None:
    """Record the parent's descendants until the pipe closes, then stop every one still alive."""
    import psutil

    try:
        parent = psutil.Process(parent_pid)
    except psutil.NoSuchProcess:
        return
    me = os.getpid()
    known: dict[int, float] = {}
    while True:
        ready, _, _ = select.select([read_end], [], [], POLL_S)
        if ready:  # end of file: the parent is gone
            break
        try:
            for child in parent.children(recursive=True):
                if child.pid != me:
                    known.setdefault(child.pid, child.create_time())
        except psutil.NoSuchProcess:
            break
    stop(known)


def stop(known: dict[int, float]) -> None:
    import psutil

    alive = []
    for pid, started in known.items():
        try:
            process = psutil.Process(pid)
            if process.create_time() == started and not _gone(process):
                alive.append(process)
        except psutil.NoSuchProcess:
            continue
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    # Not psutil.wait_procs: these are not our children, so an exited one that nobody reaps (a
    # container whose init reaps no orphans) would stay a zombie and hold us the whole grace.
    deadline = time.monotonic() + STOP_GRACE_S
    while (alive := [p for p in alive if not _gone(p)]) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def _gone(process: psutil.Process) -> bool:
    import psutil

    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


if __name__ == "__main__":
    # Ignore the terminal's signals: the watchdog's job starts when its parent's ends.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    watch(int(sys.argv[1]), int(sys.argv[2]))

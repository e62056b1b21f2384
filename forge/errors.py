"""How a command fails: one `error:` line that names the path, key or resource and what would fix it.

A traceback is for the person debugging Forge, not for the operator whose disk filled up: it is
shown only with `forge --debug ...` or FORGE_DEBUG=1. Failures the commands expect are turned into
their line where they happen (forge/options.py `fail`); what escapes a command is read here: the
exception chain is searched for a cause an operator can act on (a full disk, a path that cannot be
written, a server that did not start), and anything else is reported as an unexpected failure,
in one line that says where the traceback is.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

from forge.runlog import DEBUG_ENV, current_log, debugging

__all__ = ["DEBUG_ENV", "explain", "run_guarded"]

PREFECT_START_FAILED = "Timed out while attempting to connect to ephemeral Prefect API server"


def run_guarded(main: Callable[[], object]) -> None:
    """Run the command line; an exception that escapes it becomes one `error:` line and exit code 1."""
    try:
        main()
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as e:  # noqa: BLE001  (the boundary: every failure ends in one line)
        if debugging():
            raise
        log = current_log()
        if log is not None:  # the traceback goes where the rest of the run's log is
            with open(log, "a", encoding="utf-8") as f:
                traceback.print_exception(e, file=f)
        sys.stderr.write(f"error: {explain(e, log)}\n")
        raise SystemExit(1) from None


def explain(e: BaseException, log: Path | None = None) -> str:
    """The line for an exception: its actionable cause if the chain holds one, else what it was."""
    for cause in chain(e):
        line = known_cause(cause)
        if line:
            return f"{line} (log: {log})" if log and isinstance(cause, RuntimeError) else line
    where = f"the traceback is in {log}" if log else "rerun with --debug (or FORGE_DEBUG=1) for the traceback"
    return f"unexpected {type(e).__name__}: {first_line(e)} ({where})"


def chain(e: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = e
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def known_cause(e: BaseException) -> str | None:
    if isinstance(e, OSError) and (e.errno == errno.ENOSPC or "No space left on device" in str(e)):
        return disk_full(e)
    if isinstance(e, OSError) and e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"cannot write {e.filename or 'a file'}: {e.strerror}; make it writable or choose another workspace"
    if isinstance(e, RuntimeError) and PREFECT_START_FAILED in str(e):
        home = os.environ.get("PREFECT_HOME", "~/.prefect")
        return (
            f"the embedded Prefect server did not start (its database is in {home}); check that the folder is "
            "writable and has free space, or point PREFECT_API_URL at a running server (`forge server`)"
        )
    return None


def disk_full(e: OSError) -> str:
    """Name the file, the filesystem's free space and, when the writer said so, what it needed."""
    path = str(e.filename) if e.filename else None
    needed = getattr(e, "forge_bytes_needed", None)
    line = f"no space left on the device while writing {path or 'a file'}"
    folder = Path(path).parent if path else None
    while folder is not None and not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if folder is not None:
        free = shutil.disk_usage(folder).free
        line += f" ({human_bytes(free)} free there"
        line += f"; it needs about {human_bytes(needed)})" if needed else ")"
    return line + "; free some space or choose a workspace on a larger disk (--workspace)"


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TiB"


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else "(no message)"

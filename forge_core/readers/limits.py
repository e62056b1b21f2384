"""What reading one source file may cost (`ingest.limits`), and how each limit is enforced.

Time and memory: a watchdog. Each ingest shard reads its files in one long-lived helper process
(`python -m forge_core.readers.limits`), one file at a time. While it waits for an answer the
parent samples the helper every 10 ms; past `seconds`, or once the helper's resident memory has
grown by more than `memory_bytes` while reading the file, the helper is killed (SIGKILL), the file
is quarantined (extraction_timeout, extraction_memory) and a fresh helper reads the next file.
A reader that crashes the interpreter (a segfault in a C parser) takes down only the helper:
extraction_crashed. Why this, and not the alternatives:
- cooperative checks (a deadline tested between pages) and signal.alarm cannot stop code stuck in
  C (lxml, pypdf's inner loops, a regex hold the GIL and run no Python check), and signal.alarm
  works only on the main thread, while Dask runs tasks on worker threads;
- multiprocessing cannot start children from Dask's daemonic worker processes; a subprocess can;
- RLIMIT_AS cannot express the memory budget: polars and pyarrow reserve address space they never
  touch (2.7 GB of it for 250 MB resident after reading data_samples/corpus), so the budget is
  resident memory, measured from outside, which also needs no preexec_fn (unsafe in threads).
Its cost, measured on data_samples/corpus (114 files, one shard): about 0.35 s to start the helper
(Python and the readers' imports; 0.5 s once trafilatura is loaded) and 0.25 ms per file (its bytes
and records pickled through a pipe), against ~1 s for reading the shard. A run of many shards keeps
one helper per worker thread from shard to shard (kept_watchdog; the stage closes them with
close_kept when it ends): on the 58 shards of benchmarks/curate_e2e.py's corpus, about 29 CPU-s of
restarts. A helper that cannot start at all is the machine's fault, not a document's: HelperFailed
fails the shard, which is then redone, not reused.

Sizes that predict the cost are checked before or while reading, in the readers: a .docx's total
uncompressed size and compression ratio (decompression_bomb; Python's zipfile never inflates a
member past its declared size, so the declared sizes bound the work), a PDF's pages and objects
(too_many_pages, too_many_objects) and an HTML page's nesting depth (html_too_deep).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import pickle
import selectors
import signal
import struct
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from pydantic import Field

from forge_core.readers.extracted import Unreadable
from forge_core.section import MiB, Section

GiB = 1024 * MiB
POLL_SECONDS = 0.01  # how often the watchdog looks at the helper's clock and memory
HELPER_START_SECONDS = 300  # the helper's own start (imports) is not a document's time; a hung start still ends


class LimitsConfig(Section):
    """What reading one source file may cost; a file over any limit is quarantined and the run goes on."""

    seconds: float = Field(
        default=30, gt=0, description="Wall-clock seconds to read one file, attachments included: extraction_timeout."
    )
    memory_bytes: int = Field(
        default=GiB, gt=0, description="Resident memory the reading of one file may add: extraction_memory."
    )
    zip_max_bytes: int = Field(
        default=512 * MiB, gt=0, description="Total uncompressed size of a .docx's parts: decompression_bomb."
    )
    zip_max_ratio: float = Field(
        default=200, gt=1, description="Inflated / compressed size of a .docx (Word's own: ~20): decompression_bomb."
    )
    pdf_max_pages: int = Field(default=2000, gt=0, description="Pages of a PDF: too_many_pages.")
    pdf_max_objects: int = Field(
        default=1_000_000, gt=0, description="Objects a PDF declares (its xref /Size): too_many_objects."
    )
    html_max_depth: int = Field(
        default=256,
        gt=0,
        description="Element nesting of an HTML page: html_too_deep. lxml, which trafilatura parses with, "
        "drops everything below depth 256, so a deeper page would lose text without a word.",
    )


def check_zip(data: bytes, limits: LimitsConfig, what: str) -> None:
    """Refuse a zip-based file that would inflate past zip_max_bytes or zip_max_ratio before it is opened.

    Not a zip at all is left to the reader (its own message says what the file is not).
    """
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return
    total = sum(m.file_size for m in members)
    if total > limits.zip_max_bytes:
        raise Unreadable(
            "decompression_bomb",
            f"the {what} expands to {total} bytes: exceeds ingest.limits.zip_max_bytes = {limits.zip_max_bytes}",
        )
    ratio = total / max(1, len(data))
    if ratio > limits.zip_max_ratio:
        raise Unreadable(
            "decompression_bomb",
            f"the {what} expands {ratio:.0f} times ({len(data)} to {total} bytes): "
            f"exceeds ingest.limits.zip_max_ratio = {limits.zip_max_ratio:g}",
        )


class HelperFailed(RuntimeError):
    """The helper process could not be started: a fault of the machine, not of a document."""


class Watchdog:
    """Runs fn(*args) in a helper process, one call at a time, within the time and memory of `limits`.

    fn and args travel by pickle (fn by its module and name), so fn must be importable by the helper;
    `preload` names modules the helper imports before its clock first runs. Over budget, call()
    raises Unreadable(extraction_timeout | extraction_memory | extraction_crashed); an exception
    of fn is raised again here. As a context manager it starts the helper on entry (HelperFailed if
    it cannot) and stops it on exit.
    """

    def __init__(self, limits: LimitsConfig, preload: tuple[str, ...] = ()):
        self.limits = limits
        self.preload = preload
        self._proc: subprocess.Popen | None = None
        self.starts = 0  # helpers started: one, plus one after each file over budget

    def __enter__(self) -> Watchdog:
        self._helper()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Let the helper finish (its stdin closes), or kill it after a few seconds."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self._discard()

    def _discard(self) -> int | None:
        """Kill the helper (if any) and reap it; its exit status."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        proc.kill()
        code = proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            with contextlib.suppress(OSError):  # unflushed bytes to a dead process
                pipe.close()
        return code

    def _helper(self) -> subprocess.Popen:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._discard()
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # forge_core's folder, installed or not
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        proc = subprocess.Popen(
            [sys.executable, "-m", __name__, *self.preload],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
        )
        self._proc = proc
        self.starts += 1
        try:
            answer = _receive(proc, time.monotonic() + HELPER_START_SECONDS, None)
        except (_OverTime, _HelperDied):
            answer = None
        if answer != ("ready",):
            self._discard()
            raise HelperFailed(f"the reading helper process did not start (python -m {__name__}; see its stderr)")
        return proc

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        request = pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)
        proc = self._helper()
        memory = _Memory(psutil.Process(proc.pid), self.limits.memory_bytes)
        start = time.monotonic()
        try:
            _send(proc.stdin, request)
            status, value = _receive(proc, start + self.limits.seconds, memory)
        except _OverTime:
            self._discard()
            raise Unreadable(
                "extraction_timeout",
                f"exceeded ingest.limits.seconds = {self.limits.seconds:g}: reading was stopped",
            ) from None
        except _OverMemory:
            self._discard()
            raise Unreadable("extraction_memory", self._memory_detail()) from None
        except (_HelperDied, BrokenPipeError):
            died = _exit_status(self._discard())
            raise Unreadable("extraction_crashed", f"the reading process died ({died}) on this file") from None
        except BaseException:
            self._discard()  # an answer left half read in the pipe would be taken for the next file's
            raise
        if status == "memory":
            self._discard()
            raise Unreadable("extraction_memory", self._memory_detail())
        if memory.resident() > self.limits.memory_bytes:
            self._discard()  # a helper bloated by earlier files starts afresh for the next
        if status == "raised":
            raise value
        return value

    def _memory_detail(self) -> str:
        return f"exceeded ingest.limits.memory_bytes = {self.limits.memory_bytes}: reading was stopped"


# Helpers kept between shards: one per thread (a Dask worker may run shards on several) and per
# limits and preload, since a helper serves one call at a time under one budget.
_kept: dict[tuple[int, str, tuple[str, ...]], Watchdog] = {}
_kept_lock = threading.Lock()


def kept_watchdog(limits: LimitsConfig, preload: tuple[str, ...] = ()) -> Watchdog:
    """This thread's Watchdog for these limits, started once and reused by the next shard.

    Each call() still runs under the same budget and the same restarts (after a file over budget,
    or once the helper has grown past memory_bytes), so what a shard reads is what a fresh helper
    would read. close_kept() stops them; a helper whose parent dies sees its stdin close and exits.
    """
    key = (threading.get_ident(), limits.model_dump_json(), tuple(preload))
    with _kept_lock:
        dog = _kept.get(key)
        if dog is None:
            dog = _kept[key] = Watchdog(limits, preload)
    dog._helper()  # started here, so that a helper that cannot start fails the shard (HelperFailed)
    return dog


def close_kept() -> int:
    """Stop every kept helper of this process (run on each worker when a stage ends); how many."""
    with _kept_lock:
        dogs = list(_kept.values())
        _kept.clear()
    for dog in dogs:
        dog.close()
    return len(dogs)


def _exit_status(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


class _OverTime(Exception):
    pass


class _OverMemory(Exception):
    pass


class _HelperDied(Exception):
    pass


class _Memory:
    """The helper's resident memory, against what it held when the call began."""

    def __init__(self, process: Any, budget: int):
        self.process = process
        self.start = self.resident()
        self.budget = budget

    def resident(self) -> int:
        try:
            return self.process.memory_info().rss
        except Exception:  # gone: the read that follows sees the end of its pipe
            return 0

    def over(self) -> bool:
        return self.resident() - self.start > self.budget


HEADER = struct.Struct("<Q")


def _send(pipe: Any, payload: bytes) -> None:
    pipe.write(HEADER.pack(len(payload)))
    pipe.write(payload)
    pipe.flush()


def _receive(proc: subprocess.Popen, deadline: float, memory: _Memory | None) -> Any:
    """One answer from the helper; _OverTime, _OverMemory or _HelperDied if it does not come."""
    with selectors.DefaultSelector() as selector:  # not select(): a worker's descriptors may pass 1024
        selector.register(proc.stdout, selectors.EVENT_READ)
        fd = proc.stdout.fileno()
        header = _read_exact(selector, fd, HEADER.size, deadline, memory)
        return pickle.loads(_read_exact(selector, fd, HEADER.unpack(header)[0], deadline, memory))


def _read_exact(selector: Any, fd: int, n: int, deadline: float, memory: _Memory | None) -> bytearray:
    """n bytes into one buffer (a large document's records are not copied twice)."""
    buffer = bytearray(n)
    view = memoryview(buffer)
    done = 0
    while done < n:
        if not selector.select(POLL_SECONDS):
            if time.monotonic() > deadline:
                raise _OverTime
            if memory is not None and memory.over():
                raise _OverMemory
            continue
        got = os.readv(fd, [view[done:]])
        if not got:
            raise _HelperDied
        done += got
    return buffer


# The helper's side -------------------------------------------------------------------------------
def _portable(error: BaseException) -> BaseException:
    """The exception itself if it survives pickling, else a RuntimeError that names it."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")


def serve(preload: list[str]) -> None:
    """Answer (fn, args) requests on stdin until it closes; stray prints go to stderr, not the answers."""
    requests = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(2, 1)
    for name in preload:
        importlib.import_module(name)
    _send(answers, pickle.dumps(("ready",)))
    while header := requests.read(HEADER.size):
        request = requests.read(HEADER.unpack(header)[0])
        try:
            fn, args = pickle.loads(request)
            del request  # the file's bytes are in args now; not held twice while it is read
            answer: tuple[str, Any] = ("ok", fn(*args))
        except MemoryError:
            answer = ("memory", None)
        except Exception as e:
            answer = ("raised", _portable(e))
        try:
            payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:
            payload = pickle.dumps(("raised", RuntimeError(f"unpicklable answer: {type(e).__name__}: {e}")))
        _send(answers, payload)
        if answer[0] == "memory":
            return


if __name__ == "__main__":
    serve(sys.argv[1:])

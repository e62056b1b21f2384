"""Process supervision for the servers Forge runs (`forge ui`, `forge server`).

Each server runs as a child process in its own session: `mlflow server` forks uvicorn and Prefect
may fork workers, and one signal to the process group stops all of them, leaving nothing behind.
Their output goes to log files under <workspace>/logs/<command>/, and the terminal shows only the
URLs. A server that cannot start, or that stops on its own, stops the others and is reported with
the tail of its log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from forge_core.airgap import TELEMETRY_OFF
from forge_core.io.workspace import Workspace

# Prefect's server migrates its database and builds its UI before it answers: over 20 s on a loaded
# 2-core machine, and both servers start at once.
STARTUP_TIMEOUT_S = 180.0
# How long a server gets to finish requests and close its database after SIGTERM before SIGKILL.
STOP_GRACE_S = 15.0
LOG_TAIL_LINES = 30


class ServiceError(RuntimeError):
    """A server cannot start or stopped on its own; the message says which, why, and what to do."""


@dataclass
class Service:
    """One server: how to start it, where it answers, and the process once started."""

    name: str
    host: str
    port: int
    port_option: str  # the `forge ui` option that moves it, for the port-in-use message
    url: str
    health_url: str
    command: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    log_file: IO[bytes] | None = field(default=None, repr=False)


def supervise(services: list[Service], command: str, on_ready: Callable[[list[Service]], None]) -> int:
    """Start `services`, call `on_ready` once all answer, and keep them up until Ctrl-C or SIGTERM.

    Shared by `forge ui` and `forge server` (forge/services/team.py); `command` names the one that
    runs in messages. Returns 0 after a requested stop. Raises ServiceError when a port is taken
    (before anything starts), a server cannot start, or one dies on its own, with the tail of its
    log; every process started is stopped first, in all cases.
    """
    for service in services:
        ensure_port_free(service)

    stop = StopRequest()
    previous = stop.install()
    try:
        for service in services:
            start(service)
        if not wait_until_up(services, stop):
            return 0
        on_ready(services)
        while not stop.requested:
            for service in services:
                if service.process is not None and service.process.poll() is not None:
                    raise ServiceError(
                        f"the {service.name} server stopped on its own "
                        f"(exit code {service.process.returncode}), so {command} stopped.\n" + log_tail(service)
                    )
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:  # only when the handlers could not be installed (not the main thread)
        return 0
    finally:
        terminate(services)
        stop.restore(previous)


def child_env() -> dict[str, str]:
    """This process's environment with telemetry forced off, stated here rather than relied upon.

    Unbuffered, so the log file is current when a server dies and its tail is shown.
    """
    return {**os.environ, **TELEMETRY_OFF, "PYTHONUNBUFFERED": "1"}


def executable(name: str) -> str:
    """The console script installed with Forge's Python, so the servers match the pinned versions."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise ServiceError(f"{path} not found: `{name}` is installed with Forge's dependencies (run `make install`)")
    return str(path)


def log_dir(ws: Workspace, command: str = "ui") -> Path:
    """<workspace>/logs/<command>, or a local temporary folder when the workspace is not a local folder."""
    folder = Path(ws.path("logs", command)) if ws.is_local else Path(tempfile.gettempdir(), f"forge-{command}-logs")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# Starting and stopping ----------------------------------------------------------------------


def ensure_port_free(service: Service) -> None:
    """Refuse a taken port up front: the server would otherwise fail only after seconds of start-up."""
    host = service.host
    family, kind, proto, _, address = socket.getaddrinfo(host, service.port, type=socket.SOCK_STREAM)[0]
    try:
        # SO_REUSEADDR, as uvicorn sets it: a port left in TIME_WAIT by a previous run is free.
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as e:
        raise ServiceError(
            f"port {service.port} on {host} is already in use ({e.strerror}), so the {service.name} server cannot "
            f"start there; stop what holds it or choose another port with {service.port_option}"
        ) from e


def start(service: Service) -> None:
    service.log_file = open(service.log, "wb")  # noqa: SIM115  (closed in terminate)
    service.process = subprocess.Popen(
        service.command,
        env=service.env,
        stdin=subprocess.DEVNULL,
        stdout=service.log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the terminal's Ctrl-C comes to us, not to it
    )


def wait_until_up(services: list[Service], stop: StopRequest) -> bool:
    """Wait until every server answers HTTP; False when a stop was requested first."""
    pending = list(services)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while pending:
        if stop.requested:
            return False
        for service in list(pending):
            assert service.process is not None
            if service.process.poll() is not None:
                raise ServiceError(
                    f"the {service.name} server exited while starting (exit code {service.process.returncode}).\n"
                    + log_tail(service)
                )
            if answers(service.health_url):
                pending.remove(service)
        if pending and time.monotonic() > deadline:
            names = " and ".join(s.name for s in pending) + (" servers" if len(pending) > 1 else " server")
            raise ServiceError(
                f"the {names} did not answer within {STARTUP_TIMEOUT_S:.0f} s.\n"
                + "\n".join(log_tail(s) for s in pending)
            )
        if pending:
            time.sleep(0.5)
    return True


def answers(url: str) -> bool:
    # No proxy: an HTTP_PROXY in the environment must not carry a loopback health check elsewhere.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def terminate(services: list[Service]) -> None:
    """SIGTERM each server's process group, SIGKILL what is left after STOP_GRACE_S, reap the leaders."""
    started = [s for s in services if s.process is not None]
    for service in started:
        signal_group(service, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline and any(group_alive(s) for s in started):
        time.sleep(0.2)
    for service in started:
        signal_group(service, signal.SIGKILL)
        assert service.process is not None
        service.process.wait()
    for service in services:
        if service.log_file is not None:
            service.log_file.close()


def signal_group(service: Service, signum: signal.Signals) -> None:
    assert service.process is not None
    # start_new_session: the group id is the leader's pid. ProcessLookupError: the group is gone.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(service.process.pid, signum)


def group_alive(service: Service) -> bool:
    """True while any process of the server's group exists (its reaped leader no longer counts)."""
    assert service.process is not None
    service.process.poll()
    try:
        os.killpg(service.process.pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class StopRequest:
    """Ctrl-C and SIGTERM only set a flag here; the loops that wait check it and stop the servers.

    A flag rather than an exception: a KeyboardInterrupt landing inside Popen or a socket call
    could leave a server started but not recorded, and so not stopped.
    """

    def __init__(self) -> None:
        self.requested = False

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True

    def install(self) -> dict[int, object]:
        previous: dict[int, object] = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            # ValueError outside the main thread: there Ctrl-C arrives as KeyboardInterrupt instead.
            with contextlib.suppress(ValueError):
                previous[signum] = signal.signal(signum, self._handle)
        return previous

    def restore(self, previous: dict[int, object]) -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]


# Output -------------------------------------------------------------------------------------


def print_urls(services: list[Service]) -> None:
    lines = [f"{s.name + ' UI:':12} {s.url}" for s in services]
    lines += [f"{s.name + ' log:':12} {s.log}" for s in services]
    lines.append("Press Ctrl-C to stop.")
    print("\n".join(lines), flush=True)


def log_tail(service: Service, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = service.log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"(no log at {service.log})"
    tail = "\n".join(text.rstrip().splitlines()[-lines:]) or "(empty)"
    return f"last lines of {service.log}:\n{tail}"

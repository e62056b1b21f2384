"""A throwaway PostgreSQL server for integration tests: the machine's own binaries, a fresh data
folder, a free port on 127.0.0.1, password authentication over TCP, and a stop that leaves no
process behind.

PostgreSQL refuses to run as root, and the suite may run as root (in a container). Then the
server runs as an unprivileged account that exists already (`postgres`, else `nobody`), through
`setpriv`, which changes user and execs in place: the process the test starts *is* the
postmaster, so the test stops and waits for it directly, with no wrapper in between.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Binaries in PATH first (Debian links initdb and pg_ctl into /usr/local/bin), then Debian's layout.
SEARCH = ("", "/usr/lib/postgresql/*/bin")
UNPRIVILEGED_USERS = ("postgres", "nobody")
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


class PostgresUnavailable(RuntimeError):
    """No way to run PostgreSQL here; the message says what is missing (the test skips with it)."""


@dataclass
class Postgres:
    """A running server: connect as `user` with `password` to 127.0.0.1:`port`."""

    port: int
    user: str
    password: str = field(repr=False)
    folder: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def url(self, database: str, driver: str = "postgresql") -> str:
        """A SQLAlchemy URL: driver "postgresql" (psycopg2, MLflow) or "postgresql+asyncpg" (Prefect)."""
        return f"{driver}://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> Any:
        import psycopg2

        return psycopg2.connect(
            host="127.0.0.1", port=self.port, user=self.user, password=self.password, dbname=database, connect_timeout=5
        )

    def create_database(self, name: str) -> None:
        conn = self.connect()
        conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        try:
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()

    def query(self, database: str, sql: str) -> list[tuple[Any, ...]]:
        conn = self.connect(database)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            conn.close()

    def log(self) -> str:
        path = self.folder / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else "(no log)"


def binaries() -> Path:
    """The folder holding `initdb` and `postgres`."""
    for pattern in SEARCH:
        if not pattern:
            found = shutil.which("initdb")
            candidates = [str(Path(found).resolve().parent)] if found else []
        else:
            candidates = sorted(glob.glob(pattern), reverse=True)  # the newest major version first
        for folder in candidates:
            if Path(folder, "initdb").exists() and Path(folder, "postgres").exists():
                return Path(folder)
    raise PostgresUnavailable("no PostgreSQL server binaries (initdb, postgres) in PATH or /usr/lib/postgresql/*/bin")


def run_as() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix that drops root, and the account it runs as (None: this process's own)."""
    if os.geteuid() != 0:
        return [], None
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise PostgresUnavailable("running as root, and PostgreSQL refuses root, but `setpriv` is not installed")
    for name in UNPRIVILEGED_USERS:
        with contextlib.suppress(KeyError):
            account = pwd.getpwnam(name)
            prefix = [setpriv, f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--clear-groups"]
            return prefix, account
    raise PostgresUnavailable(
        f"running as root, and none of the accounts {UNPRIVILEGED_USERS} exists to run PostgreSQL"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def postgres_server(user: str = "forge") -> Iterator[Postgres]:
    """Start a fresh server, yield it, and stop it (fast shutdown, SIGKILL after STOP_TIMEOUT_S).

    Raises PostgresUnavailable before starting anything when this machine cannot run one.
    """
    bin_dir = binaries()
    prefix, account = run_as()
    # Not pytest's tmp_path: its parents are private to root, and the server's account must reach
    # its data folder. mkdtemp makes a 0700 folder, which is then handed to that account.
    folder = Path(tempfile.mkdtemp(prefix="forge-postgres-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        password = secrets.token_urlsafe(16)
        (folder / "pwfile").write_text(password + "\n")
        if account is not None:
            os.chown(folder, account.pw_uid, account.pw_gid)
            os.chown(folder / "pwfile", account.pw_uid, account.pw_gid)
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        env.pop("PGDATA", None)
        initdb = subprocess.run(
            [*prefix, str(bin_dir / "initdb"), "-D", str(folder / "data"), "-U", user,
             "--pwfile", str(folder / "pwfile"), "--auth-local=trust", "--auth-host=scram-sha-256",
             "-E", "UTF8", "--no-locale", "--no-sync"],
            env=env, cwd=folder, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed ({initdb.returncode}):\n{initdb.stdout}\n{initdb.stderr}")
        (folder / "pwfile").unlink()
        port = free_port()
        log = open(folder / "postgres.log", "wb")  # noqa: SIM115  (closed below, after the server stops)
        with log:
            process = subprocess.Popen(
                [*prefix, str(bin_dir / "postgres"), "-D", str(folder / "data"), "-p", str(port),
                 "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={folder}",
                 # A test database need not survive a power cut: no waiting on the disk.
                 "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
                env=env, cwd=folder, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            server = Postgres(port=port, user=user, password=password, folder=folder, process=process)
            wait_until_accepting(server)
            yield server
    finally:
        if process is not None:
            stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def wait_until_accepting(server: Postgres) -> None:
    import psycopg2

    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"postgres exited with {server.process.returncode} while starting:\n{server.log()}")
        try:
            server.connect().close()
            return
        except psycopg2.OperationalError as e:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"postgres did not accept connections within {STARTUP_TIMEOUT_S} s:\n{server.log()}"
                ) from e
            time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Fast shutdown (SIGINT: roll back open transactions, disconnect clients); its backends exit with it."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

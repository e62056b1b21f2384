"""A loopback S3-compatible server for tests: moto's server mode, run as a real process.

Forge talks to it exactly as to any object store: through s3fs and botocore, configured by the
standard AWS_* environment variables that `environ()` returns, so nothing ever resolves an AWS
hostname. The server is started in its own process group and stopped with it, leaving nothing
behind.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path


@dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen

    def environ(self) -> dict[str, str]:
        """What a user sets for an S3 workspace, pointed at this server with dummy credentials.

        The config and credentials files are pointed at nothing, so a developer's ~/.aws (a
        profile, an SSO session, a real endpoint) can neither leak in nor send a request out, and
        a proxy in the environment is bypassed for the loopback endpoint.
        """
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "forge-test",
            "AWS_SECRET_ACCESS_KEY": "forge-test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }

    def filesystem(self):
        """An s3fs filesystem on this server, for the test's own checks (no instance cache)."""
        import s3fs

        return s3fs.S3FileSystem(
            key="forge-test",
            secret="forge-test",
            endpoint_url=self.endpoint,
            client_kwargs={"region_name": "us-east-1"},
            skip_instance_cache=True,
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(endpoint: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never via a proxy
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with opener.open(f"{endpoint}/moto-api/", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError(f"moto server did not answer on {endpoint} within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (it and anything it started), SIGKILL if it lingers;
    always reaped. Signalled only while it runs, so its process group id is still its own."""
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@contextmanager
def s3_server(log_dir: Path, buckets: tuple[str, ...] = (), timeout: float = 60) -> Iterator[S3Server]:
    """Start moto's S3 server on a free 127.0.0.1 port, create `buckets`, and stop it on exit."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = Path(log_dir) / "moto-server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, stopped as one
            env={**os.environ, "AWS_EC2_METADATA_DISABLED": "true"},
        )
    try:
        _wait_until_up(endpoint, process, log, timeout)
        server = S3Server(endpoint, process)
        if buckets:
            import boto3

            # boto3, not s3fs.mkdir: s3fs sends a LocationConstraint that us-east-1 refuses.
            client = boto3.client(
                "s3",
                endpoint_url=endpoint,
                aws_access_key_id="forge-test",
                aws_secret_access_key="forge-test",
                region_name="us-east-1",
            )
            for bucket in buckets:
                client.create_bucket(Bucket=bucket)
        yield server
    finally:
        _stop(process)

"""An audit hook that blocks and records network traffic to anything but loopback.

Audit events fire inside CPython's socket module for every connect, sendto and getaddrinfo,
whichever library (httpx, urllib3, asyncio, tornado) makes the call, so nothing slips past.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import time

from forge_core.airgap import is_loopback

_installed = False


class EgressBlocked(PermissionError):
    pass


def _own_names() -> set[str]:
    try:
        name = socket.gethostname()
    except OSError:
        return set()
    return {name, name.split(".")[0]}


def _record(what: str) -> None:
    path = os.environ.get("FORGE_EGRESS_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%H:%M:%S')} pid={os.getpid()} {' '.join(sys.argv)[:200]}: {what}\n")
    raise EgressBlocked(f"forge test guard: blocked network egress: {what}")


def _hook(event: str, args: tuple) -> None:
    if event in ("socket.connect", "socket.sendto"):
        sock, address = args[0], args[-1]
        inet = getattr(sock, "family", None) in (socket.AF_INET, socket.AF_INET6)
        if inet and isinstance(address, tuple) and not is_loopback(str(address[0])):
            _record(f"{event} to {address[0]}:{address[1]}")
    elif event == "socket.getaddrinfo":
        host = args[0]
        if isinstance(host, bytes):
            host = host.decode()
        if host and not is_loopback(host) and host not in _OWN and not _is_ip(host):
            _record(f"name lookup of {host!r}")


_OWN: set[str] = set()


def _is_ip(host: str) -> bool:
    """An address literal needs no lookup; the connect that follows is checked instead."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def install() -> None:
    global _installed
    if _installed:
        return
    _OWN.update(_own_names())
    sys.addaudithook(_hook)
    _installed = True

"""The record of an erasure request, which must not itself keep what it erases.

Identifiers (doc_id, sha256, path) are kept as keyed hashes: HMAC-SHA256 under a key that lives in
the workspace (erasures/.key, created on first use, readable by its owner only). With the key, a
later request or an auditor can tell whether a given document was erased; without it the record
says nothing about which documents they were. Delete the key and the link is gone for good.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from typing import Any

from forge_core.io.workspace import Workspace

FOLDER = "erasures"


class ErasureError(ValueError):
    """The request cannot be carried out as given; the message says why."""


def key(ws: Workspace) -> bytes:
    path = ws.path(FOLDER, ".key")
    if not ws.exists(path):
        ws.makedirs(ws.path(FOLDER))
        ws.write_bytes(path, secrets.token_bytes(32))
        if ws.is_local:
            os.chmod(path, 0o600)
    with ws.fs.open(path, "rb") as f:
        return f.read()


def keyed(secret: bytes, value: str) -> str:
    return hmac.new(secret, value.encode("utf-8"), hashlib.sha256).hexdigest()


def record_path(ws: Workspace, request_id: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,128}", request_id):
        raise ErasureError(f"request id {request_id!r}: use letters, digits, '.', '_' or '-' (at most 128)")
    return ws.path(FOLDER, f"{request_id}.json")


def load(ws: Workspace, request_id: str) -> dict[str, Any]:
    path = record_path(ws, request_id)
    if not ws.exists(path):
        raise ErasureError(f"no erasure request {request_id!r} in {ws.display(ws.path(FOLDER))}")
    return ws.read_json(path)


def save(ws: Workspace, record: dict[str, Any]) -> None:
    ws.write_json(record_path(ws, record["request_id"]), record)


def erasures_of(ws: Workspace, digests: list[str]) -> list[dict[str, Any]]:
    """The requests that erased a document, found by its doc_id or sha256 through the keyed hashes."""
    secret_path = ws.path(FOLDER, ".key")
    if not digests or not ws.exists(secret_path):
        return []
    secret = key(ws)
    wanted = {keyed(secret, d.lower()) for d in digests}
    found = []
    for path in sorted(ws.fs.glob(ws.path(FOLDER, "*.json"))):
        record = ws.read_json(path)
        matched = record.get("matched", {})
        if wanted & set(matched.get("keyed_doc_ids", []) + matched.get("keyed_sha256", [])):
            found.append(
                {
                    "request_id": record["request_id"],
                    "received_at": record.get("received_at"),
                    "completed_at": record.get("completed_at"),
                    "reason": record.get("reason"),
                    "datasets": record.get("datasets"),
                    "held_models": [f"{m['name']}:{m['version']}" for m in record.get("held_models") or []],
                }
            )
    return found

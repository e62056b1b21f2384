"""The records an audit reads, and how each of its figures names the one it came from.

A figure is a fact, `{"value": ..., "cite": [{"record": KEY, "at": WHERE}]}`: KEY is an entry of
the audit's `records`, WHERE the field, param, metric, tag or column read there. A record says how
to check that it is the one that was read: a workspace file by its path (relative to the
workspace, so a copied or moved workspace audits the same) and sha256; an MLflow run by its id; a
run's artifact by run, path and sha256; a model version by name and version. Nothing here reads
the clock or the machine, so the same records give the same bytes.
"""

from __future__ import annotations

import hashlib
import posixpath
import tempfile
from pathlib import Path
from typing import Any

from forge_core.integrity.digests import sha256_of
from forge_core.io.workspace import Workspace

NOT_RECORDED = "not recorded"


def fact(value: Any, *cites: tuple[str, str], **notes: Any) -> dict[str, Any]:
    """A figure and the records it was read from, as (record key, where in it) pairs."""
    return {"value": value, "cite": [{"record": key, "at": at} for key, at in cites], **notes}


def missing(why: str) -> dict[str, Any]:
    """A figure no record holds: it says so and why, rather than leave a blank or guess."""
    return {"value": NOT_RECORDED, "missing": why}


class Records:
    """The records one audit cites, under short keys, in the order they were first read."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.entries: dict[str, dict[str, Any]] = {}

    def relative(self, path: str) -> str:
        """A path inside the workspace relative to its root; one outside it as a full URL."""
        root = self.ws.root.rstrip("/")
        return posixpath.relpath(path, root) if path.startswith(root + "/") else self.ws.display(path)

    def file(self, key: str, path: str) -> str:
        if key not in self.entries:
            digest = sha256_of(self.ws, path)
            self.entries[key] = {"kind": "workspace file", "path": self.relative(path), "sha256": digest}
        return key

    def files(self, key: str, paths: list[str]) -> str:
        if key not in self.entries:
            listed = [{"path": self.relative(p), "sha256": sha256_of(self.ws, p)} for p in sorted(paths)]
            self.entries[key] = {"kind": "workspace files", "files": listed}
        return key

    def config_file(self, key: str, path: Path) -> str:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        self.entries[key] = {"kind": "config file", "path": str(path.resolve()), "sha256": digest}
        return key

    def run(self, key: str, run_id: str, name: str | None) -> str:
        self.entries[key] = {"kind": "mlflow run", "run_id": run_id, "run_name": name or ""}
        return key

    def model_version(self, key: str, name: str, version: str) -> str:
        self.entries[key] = {"kind": "mlflow model version", "name": name, "version": version}
        return key

    def artifact(self, key: str, run_id: str, path: str) -> bytes | None:
        """The artifact's bytes, recorded under key with their sha256; None if the run has no such artifact."""
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        with tempfile.TemporaryDirectory(prefix="forge-audit-") as tmp:
            try:
                local = MlflowClient().download_artifacts(run_id, path, tmp)
            except (MlflowException, OSError):
                return None
            data = Path(local).read_bytes()
        self.entries[key] = {
            "kind": "mlflow artifact",
            "run_id": run_id,
            "path": path,
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        return data

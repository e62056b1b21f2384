"""A workspace copied, moved or mounted elsewhere reads its own files, not the original's.

MLflow's SQLite store records artifact locations as absolute file URIs (an experiment's folder,
each run's, each logged model's), and Forge's dataset inputs record the dataset's folder. Opened
at a new path, the copy's store would read the original's artifacts, or fail when they are gone.
So the store remembers the workspace root it was written under (mlflow/workspace-root), and a
process that opens it at another root rewrites those locations, in one transaction, before MLflow
reads them: the copy then resolves everything inside itself. Only locations are rewritten; the
parameters, tags and metrics of the runs are the record and stay as they were.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

MARKER = "workspace-root"
# (table, column) pairs that hold a location inside the workspace, in MLflow 3's SQL schema.
LOCATIONS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "storage_location"),
    ("model_versions", "source"),
    ("datasets", "dataset_source"),
)


def relocate_store(root: str, mlflow_dir: str) -> str | None:
    """Make the store under `mlflow_dir` point inside `root`; returns the old root if it moved."""
    folder = Path(mlflow_dir)
    marker, database = folder / MARKER, folder / "mlflow.db"
    current = str(Path(root))
    old = marker.read_text(encoding="utf-8").strip() if marker.exists() else recorded_root(database)
    if old and old != current and database.exists():
        rewrite(database, old, current)
    if old != current or not marker.exists():
        folder.mkdir(parents=True, exist_ok=True)
        marker.write_text(current + "\n", encoding="utf-8")
    return old if old and old != current else None


def recorded_root(database: Path) -> str | None:
    """For a store written before the marker existed: the root its experiments' folders name
    (<root>/mlflow/artifacts/<experiment>, as forge_core/lineage/tracking.py lays them out)."""
    if not database.exists():
        return None
    with contextlib.closing(sqlite3.connect(database, timeout=60)) as db:
        try:
            rows = db.execute("select artifact_location from experiments").fetchall()
        except sqlite3.DatabaseError:
            return None
    for (location,) in rows:
        if location and location.startswith("file:") and "/mlflow/artifacts/" in location:
            from urllib.parse import unquote, urlparse

            return unquote(urlparse(location).path).split("/mlflow/artifacts/")[0]
    return None


def rewrite(database: Path, old: str, new: str) -> None:
    """Every location under `old` (as a path or as a file URI) moved under `new`."""
    uris = (Path(old).as_uri() + "/", Path(new).as_uri() + "/")
    paths = (old.rstrip("/") + "/", new.rstrip("/") + "/")
    with contextlib.closing(sqlite3.connect(database, timeout=60)) as db, db:
        tables = {name for (name,) in db.execute("select name from sqlite_master where type = 'table'")}
        for table, column in LOCATIONS:
            if table not in tables or column not in {row[1] for row in db.execute(f"pragma table_info({table})")}:
                continue
            # A file URI (percent-encoded) and a plain path (in JSON) each by their own form, once.
            db.execute(f"update {table} set {column} = replace({column}, ?, ?) where {column} like 'file:%'", uris)
            db.execute(f"update {table} set {column} = replace({column}, ?, ?) where {column} not like 'file:%'", paths)

"""The dataset versions of a workspace: list them, show one, export one's kept documents.

Reads only what curation wrote (manifest.json, stats.json, config.yaml, the kept shards), so it
works on any workspace, with or without MLflow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from forge_core.io.shards import read_shard
from forge_core.io.workspace import Workspace
from forge_core.lineage.records import validation_status

EXPORT_COLUMNS = ["doc_id", "source_uri", "raw_sha256", "format", "language", "parent_doc_id", "n_words", "text"]


class DatasetNotFound(LookupError):
    pass


def list_datasets(ws: Workspace) -> list[dict[str, Any]]:
    """One row per dataset version, newest first; unfinished ones (no manifest) are marked so, with
    the error of the run that failed on them (failed.json), if one did."""
    rows = []
    for folder in sorted(ws.fs.glob(f"{ws.path('datasets')}/ds-*")):
        dataset_id = folder.rstrip("/").rsplit("/", 1)[-1]
        manifest = f"{folder}/manifest.json"
        if not ws.exists(manifest):
            failed = f"{folder}/failed.json"
            error = ws.read_json(failed).get("error") if ws.exists(failed) else None
            rows.append({"dataset_id": dataset_id, "complete": False, "failed": error})
            continue
        m = ws.read_json(manifest)
        rows.append(
            {
                "dataset_id": dataset_id,
                "complete": True,
                "created_at": m.get("created_at"),
                "sources": m.get("sources", []),
                **{k: m["counts"][k] for k in ("ingested", "kept", "dropped", "quarantined")},
                "validation": validation_status(m.get("validation") or {}),
                "tokenized": ws.exists(f"{ws.tokens_dir(dataset_id)}/manifest.json"),
            }
        )
    return sorted(rows, key=lambda r: r.get("created_at") or "", reverse=True)


def dataset_folder(ws: Workspace, dataset_id: str) -> str:
    folder = ws.dataset_dir(dataset_id)
    if not ws.exists(f"{folder}/manifest.json"):
        known = ", ".join(r["dataset_id"] for r in list_datasets(ws) if r["complete"]) or "none"
        raise DatasetNotFound(
            f"no finished dataset version {dataset_id!r} in {ws.display(ws.path('datasets'))} (known: {known})"
        )
    return folder


def show_dataset(ws: Workspace, dataset_id: str) -> dict[str, Any]:
    folder = dataset_folder(ws, dataset_id)
    manifest, stats = ws.read_json(f"{folder}/manifest.json"), ws.read_json(f"{folder}/stats.json")
    with ws.fs.open(f"{folder}/config.yaml", "r", encoding="utf-8") as f:
        config = yaml.safe_load(f)
    return {
        "dataset_id": dataset_id,
        "path": ws.display(folder),
        "created_at": manifest.get("created_at"),
        "sources": manifest.get("sources", []),
        "files": manifest.get("files"),
        "code_version": manifest.get("code_version"),
        "counts": stats["counts"],
        "steps": stats.get("steps", []),
        "languages": stats.get("languages", []),
        "pii": stats.get("pii", []),
        "validation": {"status": validation_status(stats.get("validation") or {}), **(stats.get("validation") or {})},
        "config": config,
        "report": ws.display(f"{folder}/report.md") if ws.exists(f"{folder}/report.md") else None,
    }


def export_dataset(ws: Workspace, dataset_id: str, out: Path) -> int:
    """Write every kept document as one JSON object per line; returns how many.

    Shard by shard, through a temporary name, so a large corpus is never held whole and an
    interrupted export never leaves a file that looks complete.
    """
    folder = dataset_folder(ws, dataset_id)
    shards = sorted(ws.fs.glob(f"{folder}/shards/part-*.parquet"))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    n = 0
    with tmp.open("w", encoding="utf-8") as f:
        for path in shards:
            frame = read_shard(ws, path)
            for row in frame.select([c for c in EXPORT_COLUMNS if c in frame.columns]).iter_rows(named=True):
                f.write(json.dumps({"dataset_id": dataset_id, **row}, ensure_ascii=False) + "\n")
                n += 1
    tmp.replace(out)
    return n

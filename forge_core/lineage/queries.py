"""`forge lineage`: answers read back from what MLflow and the workspace recorded, nothing else.

model -> documents: a registered version's tags and run name its dataset version; the dataset's
ledger says what every ingested document became. document -> models: every complete dataset
version is searched for the document (through the lineage index, lineage/document_index.py, when
it covers them all, else in their ledgers: the same answer either way), and every model version
tagged with a dataset where it was kept is listed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import fsspec
import polars as pl
from mlflow.tracking import MlflowClient

from forge_core import ledger as ledgers
from forge_core.io.workspace import Workspace
from forge_core.lineage.document_index import open_index
from forge_core.lineage.records import file_digest

DUPLICATE_REASONS = ("exact_duplicate", "near_duplicate")


class LineageError(LookupError):
    """A model or document that the records do not know; the message says what was looked for."""


# Model versions ---------------------------------------------------------------------------------
def parse_model_ref(ref: str) -> tuple[str, str | None, str | None]:
    """NAME, NAME:VERSION or NAME@ALIAS -> (name, version, alias)."""
    if "@" in ref:
        name, alias = ref.rsplit("@", 1)
        return name, None, alias
    if ":" in ref:
        name, version = ref.rsplit(":", 1)
        if not version.isdigit():
            raise LineageError(f"{ref!r}: the version after ':' must be a number (or use NAME@ALIAS)")
        return name, version, None
    return ref, None, None


def resolve_model(ref: str) -> Any:
    """The ModelVersion a reference names; the newest version when it names only the model."""
    from mlflow.exceptions import MlflowException

    name, version, alias = parse_model_ref(ref)
    client = MlflowClient()
    try:
        if alias:
            return client.get_model_version_by_alias(name, alias)
        if version:
            return client.get_model_version(name, version)
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException as e:
        raise LineageError(f"no registered model version {ref!r} in {client.tracking_uri}: {e.message}") from None
    if not versions:
        raise LineageError(f"no registered model named {name!r} in {client.tracking_uri}")
    return max(versions, key=lambda v: int(v.version))


def all_model_versions() -> list[Any]:
    client = MlflowClient()
    out, token = [], None
    while True:
        page = client.search_model_versions(max_results=1000, page_token=token)
        out += list(page)
        token = page.token
        if not token:
            return out


def dataset_location(ws: Workspace, run: Any, dataset_id: str) -> str:
    """Where the run's dataset input says the dataset version lives (the workspace layout otherwise)."""
    for entry in run.inputs.dataset_inputs if run.inputs else []:
        if entry.dataset.digest == dataset_id:
            return json.loads(entry.dataset.source)["uri"]
    return ws.display(ws.dataset_dir(dataset_id))


def _read_json(url: str) -> Any:
    with fsspec.open(url, "rb") as f:
        return json.loads(f.read())


def _read_ledger(url: str) -> pl.DataFrame:
    with fsspec.open(url, "rb") as f:
        return pl.read_parquet(f)


def validation_summary(dataset_url: str, stages: dict[str, Any]) -> dict[str, Any]:
    """Per stage: passed or not, and the failing checks, from the saved Great Expectations results."""
    out: dict[str, Any] = {}
    order = ["ingested", "cleaned", "deduplicated"]
    for stage in sorted(stages, key=lambda s: order.index(s) if s in order else len(order)):
        success = stages[stage]
        entry: dict[str, Any] = {"success": success}
        try:
            saved = _read_json(f"{dataset_url}/validation/{stage}.json")
        except FileNotFoundError:
            saved = None
        if saved:
            checks = saved.get("checks", [])
            entry["checks"] = len(checks)
            entry["failed"] = [c["expectation"] for c in checks if not c.get("success")]
        out[stage] = entry
    return out


def base_files(tags: dict[str, str]) -> list[list[Any]]:
    try:
        return json.loads(tags.get("base.files") or "[]")
    except json.JSONDecodeError:
        return []  # a listing too long for a tag: the base version's artifact hf/files.json has it


def model_record(mv: Any, tags: dict[str, str]) -> dict[str, Any]:
    """What a lineage answer says of the model version itself."""
    return {
        "name": mv.name,
        "version": str(mv.version),
        "aliases": list(mv.aliases or []),
        "run_id": mv.run_id,
        "source": mv.source,
        "tags": tags,
    }


def base_lineage(mv: Any, tags: dict[str, str]) -> dict[str, Any]:
    """An imported base is the root of a lineage: no dataset, only the files it was made from."""
    return {
        "model": model_record(mv, tags),
        "base": {
            "name": mv.name,
            "version": str(mv.version),
            "architecture": tags.get("base.architecture"),
            "source": tags.get("base.source"),
            "files_digest": tags.get("base.files_digest"),
            "files": base_files(tags),
            "licence_sha256": tags.get("base.licence_sha256") or None,
        },
        "dataset": None,
    }


def model_lineage(ws: Workspace, ref: str, documents: bool = False) -> dict[str, Any]:
    """A model version back to its dataset version, sources, ledger counts, validation and training."""
    client = MlflowClient()
    mv = resolve_model(ref)
    tags = dict(mv.tags)
    if tags.get("forge.kind") == "base":
        return base_lineage(mv, tags)
    if "dataset_id" not in tags:
        raise LineageError(f"{mv.name} version {mv.version} has no dataset_id tag: it was not registered by Forge")
    dataset_id = tags["dataset_id"]
    run = client.get_run(mv.run_id)
    url = dataset_location(ws, run, dataset_id)
    retired = f"{ws.dataset_dir(dataset_id)}/superseded.json"
    if ws.exists(retired):
        note = ws.read_json(retired)
        raise LineageError(
            f"{mv.name} version {mv.version} was trained on {dataset_id}, which erasure request "
            f"{note['request_id']} retired (its ledger is deleted; successor {note['successor']}); the version is "
            f"held: `forge erase --status {note['request_id']}`"
        )
    manifest = _read_json(f"{url}/manifest.json")
    ledger = _read_ledger(f"{url}/ledger.parquet")
    digest = file_digest(f"{url}/ledger.parquet")
    stats = _read_json(f"{url}/stats.json")
    result: dict[str, Any] = {
        "model": model_record(mv, tags),
        "dataset": {
            "dataset_id": dataset_id,
            "path": url,
            "sources": manifest.get("sources", []),
            "files": manifest.get("files"),
            "created_at": manifest.get("created_at"),
            "code_version": manifest.get("code_version"),
            "ledger_digest": digest,
            "ledger_matches_tag": digest == tags.get("ledger_digest"),
        },
        "counts": ledgers.counts(ledger),
        "validation": validation_summary(url, stats.get("validation", {})),
        "training": {
            "params": dict(sorted(run.data.params.items())),
            "metrics": {
                k: v for k, v in sorted(run.data.metrics.items()) if k.startswith("eval_") or k == "parameters"
            },
        },
    }
    if "base.name" in tags:
        files = base_files(tags)
        result["base"] = {
            "name": tags["base.name"],
            "version": tags.get("base.version"),
            "architecture": tags.get("base.architecture"),
            "files_digest": tags.get("base.files_digest"),
            "files": files,
            "licence_sha256": tags.get("base.licence_sha256") or None,
        }
    if "parent.name" in tags:  # a fine-tune: the model it started from has its own lineage
        result["parent"] = {
            "name": tags["parent.name"],
            "version": tags.get("parent.version"),
            "dataset_id": tags.get("parent.dataset_id") or None,
            "method": tags.get("finetune.method"),
        }
        result["dataset"]["kind"] = manifest.get("kind", "documents")
    if documents:
        kept = ledger.filter(pl.col("status") == "kept").sort("source_uri", "doc_id")
        result["documents"] = kept.select("doc_id", "source_uri", "raw_sha256").to_dicts()
    return result


# Documents --------------------------------------------------------------------------------------
def document_key(ref: str) -> tuple[str, str, str]:
    """How a PATH, SHA256 or DOC_ID is looked up: (what it was taken to be, ledger column, value)."""
    path = Path(ref).expanduser()
    if path.exists():
        if path.is_dir():
            raise LineageError(f"{ref} is a folder; name one document (a file, its sha256 or its doc_id)")
        uri = fsspec.core.url_to_fs(str(path.resolve()))[0].unstrip_protocol(str(path.resolve()))
        return "path", "source_uri", uri
    if re.fullmatch(r"[0-9a-fA-F]{64}", ref):
        return "sha256", "raw_sha256", ref.lower()
    if re.fullmatch(r"[0-9a-fA-F]{16}", ref):
        return "doc_id", "doc_id", ref.lower()
    if "://" in ref:
        return "uri", "source_uri", ref
    raise LineageError(f"{ref!r} is not an existing file, a sha256 (64 hex digits) or a doc_id (16 hex digits)")


def key_filter(column: str, value: str) -> pl.Expr:
    """The ledger rows with value in column; a file's URI also finds its records (URI#row=N)."""
    if column == "source_uri":
        return (pl.col(column) == value) | pl.col(column).str.starts_with(value + "#")
    return pl.col(column) == value


def document_filter(ref: str) -> tuple[pl.Expr, str]:
    """How a PATH, SHA256 or DOC_ID is looked up in a ledger, and what it was taken to be."""
    matched_by, column, value = document_key(ref)
    return key_filter(column, value), matched_by


def complete_datasets(ws: Workspace, retired: bool = False) -> list[str]:
    """Dataset versions with a manifest (finished), oldest first; with retired, also those an
    erasure retired (their manifest stays, their ledger and shards are gone: superseded.json)."""
    manifests = ws.fs.glob(f"{ws.path('datasets')}/*/manifest.json")
    found = [(ws.read_json(m).get("created_at", ""), m.rsplit("/", 2)[-2]) for m in manifests]
    ids = [dataset_id for _, dataset_id in sorted(found)]
    return ids if retired else [d for d in ids if not ws.exists(f"{ws.dataset_dir(d)}/superseded.json")]


def doc_lineage(ws: Workspace, ref: str, use_index: bool = True) -> dict[str, Any]:
    """Every dataset version that saw the document, what became of it there, and the models it reached.

    Each dataset version is asked for candidate rows (`rows(column, value)`): its index's few rows
    when the index covers every complete version, else its whole ledger; the same filters then
    pick the answer from either, so "index" in the answer says only how it was found.
    """
    matched_by, column, value = document_key(ref)
    sha = file_digest(str(Path(ref).resolve())) if matched_by == "path" else None
    datasets = complete_datasets(ws)
    index = open_index(ws, datasets) if use_index else None
    appearances: list[dict[str, Any]] = []
    for dataset_id in datasets:
        rows_of = index[dataset_id].candidates if index is not None else _whole_ledger(ws, dataset_id)
        rows = rows_of(column, value).filter(key_filter(column, value))
        if sha and rows.is_empty():  # moved or renamed since: find it by content
            rows = rows_of("raw_sha256", sha).filter(pl.col("raw_sha256") == sha)
        for row in rows.to_dicts():
            entry = {"dataset_id": dataset_id, **{k: row[k] for k in ("doc_id", "source_uri", "raw_sha256")}}
            entry |= {k: row[k] for k in ("status", "stage", "reason", "detail")}
            if row["reason"] in DUPLICATE_REASONS and row["detail"]:
                survivor = rows_of("doc_id", row["detail"]).filter(pl.col("doc_id") == row["detail"])
                entry["duplicate_of"] = {
                    "doc_id": row["detail"],
                    "source_uri": survivor["source_uri"][0] if survivor.height else None,
                    "similarity": row.get("similarity"),
                }
            appearances.append(entry)
    if not appearances:
        raise LineageError(f"{ref}: no dataset version in {ws.display(ws.path('datasets'))} holds this document")
    kept_in = {a["dataset_id"] for a in appearances if a["status"] == "kept"}
    how = "used" if index is not None else ("stale, scanned ledgers" if use_index else "not used, scanned ledgers")
    return {
        "query": ref,
        "matched_by": matched_by,
        "datasets": appearances,
        "model_versions": reached(kept_in),
        "index": how,
    }


def _whole_ledger(ws: Workspace, dataset_id: str) -> Any:
    """A dataset version without an index: every lookup's candidates are its whole ledger."""
    ledger = ledgers_of(ws, dataset_id)
    return lambda column, value: ledger


def reached(kept_in: set[str]) -> list[dict[str, Any]]:
    """Model versions trained on one of the dataset versions, then, version by version, those
    fine-tuned from a version already reached (`via` names that parent): a document in a
    pretraining set reaches every assistant tuned from the model it trained."""
    client = MlflowClient()
    every = all_model_versions()
    found: dict[str, dict[str, Any]] = {}
    for mv in every:
        if mv.tags.get("dataset_id") in kept_in:
            found[f"{mv.name}:{mv.version}"] = {"mv": mv, "via": None}
    grew = True
    while grew:
        grew = False
        for mv in every:
            key, parent = f"{mv.name}:{mv.version}", f"{mv.tags.get('parent.name')}:{mv.tags.get('parent.version')}"
            if key not in found and parent in found:
                found[key] = {"mv": mv, "via": parent}
                grew = True
    versions = []
    for entry in found.values():
        mv = entry["mv"]
        aliases = client.get_model_version(mv.name, mv.version).aliases  # search results omit aliases
        version = {"name": mv.name, "version": str(mv.version), "dataset_id": mv.tags.get("dataset_id")}
        versions.append(version | {"aliases": aliases, "via": entry["via"]})
    return sorted(versions, key=lambda v: (v["name"], int(v["version"])))


def ledgers_of(ws: Workspace, dataset_id: str) -> pl.DataFrame:
    with ws.fs.open(f"{ws.dataset_dir(dataset_id)}/ledger.parquet", "rb") as f:
        return pl.read_parquet(f)


def dataset_languages(ws: Workspace, dataset_id: str, min_share: float = 0.01) -> list[str]:
    """ISO 639-1 codes of the kept documents' languages, most documents first; a language with
    under min_share of them is left out (a model card lists what the model was trained on, not
    every stray line language id labelled)."""
    kept = ledgers_of(ws, dataset_id).filter((pl.col("status") == "kept") & pl.col("language").is_not_null())
    if kept.is_empty():
        return []
    counts = kept.group_by("language").len().sort(["len", "language"], descending=[True, False])
    return [lang for lang, n in counts.iter_rows() if n / kept.height >= min_share]

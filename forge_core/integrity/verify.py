"""Recompute, offline, every digest the records hold, and list what no longer matches.

What is checked, and against what:
- each dataset version's ledger, shards, stats, config and report against its manifest's `digests`;
  its token files and tokenizer against the token manifest's `digests`;
- each dataset version's manifest against the `manifest_sha256` its publish event recorded;
- each registered model version's weights, tokenizer and config (the files MLflow keeps) against
  its `integrity.weights_files` tag, and its dataset's manifest against `integrity.dataset_manifest`,
  and both tags against the register event in the journal (so editing a tag is seen too);
- the journal's chain itself.
A record written before Forge kept digests cannot be checked; it is listed as such, not as a failure.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any
from urllib.parse import unquote, urlparse

from forge_core.integrity.digests import (
    dataset_digests,
    digest_of,
    folder_digests,
    manifest_digest,
    sha256_of,
    token_digests,
)
from forge_core.integrity.journal import verify_journal
from forge_core.io.workspace import Workspace

WEIGHTS_TAG, WEIGHTS_FILES_TAG, DATASET_MANIFEST_TAG = (
    "integrity.weights_sha256",
    "integrity.weights_files",
    "integrity.dataset_manifest",
)


def compare(recorded: dict[str, str], now: dict[str, str], where: str) -> list[str]:
    problems = [f"{where}/{name}: missing" for name in sorted(recorded.keys() - now.keys())]
    problems += [f"{where}/{name}: not in the record (added?)" for name in sorted(now.keys() - recorded.keys())]
    problems += [
        f"{where}/{name}: sha256 {now[name][:12]}... differs from the recorded {recorded[name][:12]}..."
        for name in sorted(recorded.keys() & now.keys())
        if recorded[name] != now[name]
    ]
    return problems


def verify_dataset(
    ws: Workspace, dataset_id: str, published: dict[str, str], tokenized: dict[str, str]
) -> tuple[list[str], list[str]]:
    """(problems, what could not be checked) for one dataset version; published and tokenized: the
    journal's digests of its manifest and its token manifest."""
    folder = ws.dataset_dir(dataset_id)
    where = ws.display(folder)
    manifest = ws.read_json(f"{folder}/manifest.json")
    problems: list[str] = []
    unchecked: list[str] = []
    if ws.exists(f"{folder}/superseded.json"):  # its files were deleted on purpose, by an erasure
        note = ws.read_json(f"{folder}/superseded.json")
        return [], [f"{where}: retired by erasure request {note['request_id']} (successor {note['successor']})"]
    if "digests" in manifest:
        problems += compare(manifest["digests"], dataset_digests(ws, dataset_id), where)
    else:
        unchecked.append(f"{where}: published before Forge recorded file digests")
    if dataset_id in published and published[dataset_id] != manifest_digest(ws, dataset_id):
        problems.append(f"{where}/manifest.json: differs from the manifest its publish event recorded")
    tokens = f"{ws.tokens_dir(dataset_id)}/manifest.json"
    if ws.exists(tokens):
        if dataset_id in tokenized and tokenized[dataset_id] != sha256_of(ws, tokens):
            problems.append(f"{where}/tokens/manifest.json: differs from the one its tokenize event recorded")
        token_manifest = ws.read_json(tokens)
        if "digests" in token_manifest:
            problems += compare(token_manifest["digests"], token_digests(ws, dataset_id), where)
        else:
            unchecked.append(f"{where}/tokens: tokenized before Forge recorded file digests")
    return problems, unchecked


def model_files(version: Any) -> str | None:
    """The local folder of the files a registered version's pyfunc keeps (None when not local)."""
    from mlflow.tracking import MlflowClient

    source = version.source or ""
    if source.startswith("models:/m-"):
        location = MlflowClient().get_logged_model(source.removeprefix("models:/")).artifact_location
    else:
        location = source
    if not location.startswith("file:"):
        return None
    return posixpath.join(unquote(urlparse(location).path), "artifacts")


def verify_model(ws: Workspace, version: Any, registered: dict[str, dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(problems, what could not be checked) for one registered model version."""
    name = f"{version.name} version {version.version}"
    tags = dict(version.tags)
    if WEIGHTS_TAG not in tags:
        return [], [f"{name}: registered before Forge recorded weight digests"]
    problems: list[str] = []
    recorded = json.loads(tags.get(WEIGHTS_FILES_TAG, "{}"))
    if digest_of(recorded) != tags[WEIGHTS_TAG]:
        problems.append(f"{name}: its {WEIGHTS_FILES_TAG} tag does not hash to its {WEIGHTS_TAG} tag (edited?)")
    folder = model_files(version)
    if folder is None:
        return problems, [f"{name}: its files are not in a local folder; download them to check"]
    local = Workspace(folder, create=False)
    present = [n for n in recorded if local.exists(posixpath.join(folder, n))]
    problems += compare(recorded, folder_digests(local, folder, present), f"{name}: {folder}")
    event = registered.get(f"{version.name}:{version.version}")
    if event and event.get("weights_sha256") != tags[WEIGHTS_TAG]:
        problems.append(f"{name}: its {WEIGHTS_TAG} tag differs from the one its register event recorded")
    dataset_id = tags.get("dataset_id")
    if dataset_id and DATASET_MANIFEST_TAG in tags:
        if not ws.exists(f"{ws.dataset_dir(dataset_id)}/manifest.json"):
            problems.append(f"{name}: its dataset version {dataset_id} is not in {ws.display(ws.path('datasets'))}")
        elif manifest_digest(ws, dataset_id) != tags[DATASET_MANIFEST_TAG]:
            problems.append(f"{name}: the manifest of {dataset_id} differs from the one it was trained on")
    return problems, []


def verify_workspace(ws: Workspace, versions: list[Any], dataset_ids: list[str]) -> dict[str, Any]:
    """Everything: the journal, the dataset versions and the model versions given."""
    entries, journal_problems = verify_journal(ws)
    published = {e["dataset_id"]: e["manifest_sha256"] for e in entries if e.get("kind") == "publish"}
    tokenized = {e["dataset_id"]: e["tokens_manifest_sha256"] for e in entries if e.get("kind") == "tokenize"}
    registered = {f"{e['name']}:{e['version']}": e for e in entries if e.get("kind") == "register"}
    report: dict[str, Any] = {"journal": {"entries": len(entries), "problems": journal_problems}, "datasets": {}}
    report["models"] = {}
    for dataset_id in dataset_ids:
        problems, unchecked = verify_dataset(ws, dataset_id, published, tokenized)
        report["datasets"][dataset_id] = {"problems": problems, "unchecked": unchecked}
    for version in versions:
        problems, unchecked = verify_model(ws, version, registered)
        report["models"][f"{version.name}:{version.version}"] = {"problems": problems, "unchecked": unchecked}
    every = [journal_problems] + [r["problems"] for part in ("datasets", "models") for r in report[part].values()]
    report["ok"] = not any(every)
    return report

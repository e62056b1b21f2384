"""Hugging Face cards written from Forge's records: a dataset card in every dataset version's folder
(README.md, written when the version is published, before its manifest) and a model card for every
registered version (logged as the artifact model_card/README.md of the run it points to, and
carried by `forge export --format hf`).

Both hold the card metadata a hub or registry indexes, then the same facts as `forge audit`, with
their records. A dataset card is written before any token exists, so it measures its sources'
shares in kept words; a model's audit measures them in tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from forge_core.compliance import TO_BE_SUPPLIED, ComplianceConfig
from forge_core.compliance.citations import Records
from forge_core.compliance.facts import card_languages, dataset_facts, read_dataset
from forge_core.compliance.layout import audit_blocks, records_blocks, section_blocks, to_markdown
from forge_core.interop.card import LOAD, LOGGED_CARD, card_metadata, front_matter, lineage_table
from forge_core.io.workspace import Workspace

DATASET_CARD = "README.md"
# Hugging Face's size_categories, by number of examples (here: kept documents).
SIZE_CATEGORIES = [
    (10**3, "n<1K"),
    (10**4, "1K<n<10K"),
    (10**5, "10K<n<100K"),
    (10**6, "100K<n<1M"),
    (10**7, "1M<n<10M"),
    (10**8, "10M<n<100M"),
    (10**9, "100M<n<1B"),
    (10**10, "1B<n<10B"),
    (10**11, "10B<n<100B"),
    (10**12, "100B<n<1T"),
]


def size_category(n: int) -> str:
    return next((c for limit, c in SIZE_CATEGORIES if n < limit), "n>1T")


def shifted(blocks: list[tuple], by: int) -> list[tuple]:
    """Headings moved down a level, so a document's blocks sit under a card's own title."""
    return [("h", b[1] + by, b[2]) if b[0] == "h" else b for b in blocks]


def dataset_card(ws: Workspace, dataset_id: str) -> str:
    """The dataset card of a version, from its ledger, stats, config, validation results and shards."""
    records = Records(ws)
    facts = dataset_facts(read_dataset(ws, dataset_id, records, as_published=True))
    info = facts["dataset"]
    kept = info["documents"]["value"]["kept"] or 0
    meta: dict[str, Any] = {
        "language": card_languages(info["languages"]["value"]) or None,
        "size_categories": [size_category(kept)],
        "task_categories": ["text-generation"],
        "pretty_name": f"Forge dataset {dataset_id}",
        "tags": ["forge"],
    }
    if info["license"]["value"] != TO_BE_SUPPLIED:
        meta["license"] = info["license"]["value"]
    blocks: list[tuple] = [
        ("h", 1, f"Dataset {dataset_id}"),
        (
            "p",
            "A dataset version curated by Forge. Every figure below names the record it was read from, listed "
            "at the end with its sha256; the ledger accounts for every document that was read. "
            f"`forge dataset show {dataset_id}` prints the same counts; `forge audit` documents a model trained on it.",
        ),
    ]
    for key in ("dataset", "sources", "processing"):
        blocks += section_blocks(key, facts[key], 2)
    blocks += records_blocks(records.entries, 2)
    return front_matter({k: v for k, v in meta.items() if v is not None}) + "\n" + to_markdown(blocks)


def write_dataset_card(ws: Workspace, dataset_id: str) -> str:
    path = f"{ws.dataset_dir(dataset_id)}/{DATASET_CARD}"
    ws.write_text(path, dataset_card(ws, dataset_id))
    return path


def model_card(
    ws: Workspace, ref: str, supplied: ComplianceConfig | None = None, config_path: Path | None = None
) -> str:
    """The model card of a registered version: its metadata, its lineage, then its whole audit."""
    from mlflow.tracking import MlflowClient

    from forge_core.compliance.facts import audit_model

    audit = audit_model(ws, ref, supplied, config_path)
    name, version = audit["model"]["name"]["value"], audit["model"]["version"]["value"]
    tags = dict(MlflowClient().get_model_version(name, version).tags)
    tags["mlflow.run_id"] = audit["lineage"]["training_run"]["value"]
    licence = audit["technical_documentation"]["general"]["license"]["value"]
    languages = card_languages(audit["public_summary"]["general"]["languages"]["value"])
    base = tags.get("base.name")
    meta = card_metadata(languages, base, None if licence == TO_BE_SUPPLIED else licence, name)
    intro = (
        f"Registered by Forge as {name} version {version}. Every training document of this model is listed in "
        f"the dataset's ledger named below; `forge lineage model {name}:{version}` prints the whole record and "
        f"`forge audit {name}:{version}` writes the documentation below as Markdown, HTML or JSON."
    )
    body = to_markdown([("h", 1, f"{name} (version {version})"), ("p", intro)])
    audit_text = to_markdown(shifted(audit_blocks(audit), 1))
    return f"{front_matter(meta)}\n{body}\n{lineage_table(name, version, tags, base)}\n{audit_text}\n{LOAD}"


def log_model_card(ws: Workspace, name: str, version: str) -> str:
    """Write the card of a version just registered into the run it points to; returns the card."""
    from mlflow.tracking import MlflowClient

    card = model_card(ws, f"{name}:{version}")
    client = MlflowClient()
    run_id = client.get_model_version(name, version).run_id
    client.log_text(run_id, card, LOGGED_CARD)
    return card

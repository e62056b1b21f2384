"""The README.md model card of an export: Hugging Face card metadata a hub or registry indexes
(base_model, license, language, library) and Forge's lineage, so the folder still says where it
came from once it is copied away from the MLflow registry.

A version registered by `forge run` or `forge finetune` has its card logged with it, written from
the same records as `forge audit` (forge_core/compliance/cards.py), as the artifact
model_card/README.md of the run it points to: `model_card` returns that card, so an export carries
the very card the registry holds. A version without one (an imported base, or one registered
before cards were logged) gets the lineage card built here from its tags.
"""

from __future__ import annotations

from typing import Any

import yaml


def base_row(tags: dict[str, str], base_model: str | None) -> str:
    if tags.get("forge.kind") == "base":
        return f"this version is an imported base, from {tags.get('base.source', 'a local folder')}"
    return base_model or "none: trained from scratch by Forge"


def parent_row(tags: dict[str, str]) -> str:
    if "parent.name" not in tags:
        return "-"
    return f"{tags['parent.name']} version {tags.get('parent.version')} ({tags.get('finetune.method', 'full')})"


LOGGED_CARD = "model_card/README.md"  # the artifact, on the run a registered version points to


def logged_model_card(name: str, version: str) -> str | None:
    """The card logged when the version was registered, or None (also when no registry is open:
    a card built without one must not create MLflow's default store in the current folder)."""
    import tempfile
    from pathlib import Path

    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    if not mlflow.is_tracking_uri_set():
        return None
    client = MlflowClient()
    try:
        run_id = client.get_model_version(name, version).run_id
        if not run_id:
            return None
        with tempfile.TemporaryDirectory(prefix="forge-card-") as tmp:
            return Path(client.download_artifacts(run_id, LOGGED_CARD, tmp)).read_text(encoding="utf-8")
    except (MlflowException, OSError):
        return None


def card_metadata(languages: list[str], base_model: str | None, license_id: str | None, name: str) -> dict[str, Any]:
    """Hugging Face model card metadata. Nothing is guessed: a licence not given says so."""
    meta: dict[str, Any] = {
        "library_name": "transformers",
        "pipeline_tag": "text-generation",
        "license": license_id or "other",
        "language": languages or None,
        "tags": ["forge"],
        "model_name": name,
    }
    if base_model:
        meta["base_model"] = base_model
    if not license_id:
        meta["license_name"] = "to be supplied"
    return {k: v for k, v in meta.items() if v is not None}


def front_matter(meta: dict[str, Any]) -> str:
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).strip() + "\n---\n"


LOAD = """Load it with transformers, without the network:

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
model = AutoModelForCausalLM.from_pretrained(PATH, local_files_only=True)
tokenizer = AutoTokenizer.from_pretrained(PATH, local_files_only=True)
```
"""


def lineage_table(name: str, version: str, tags: dict[str, str], base_model: str | None) -> str:
    lineage = [
        ("registered model", f"{name} version {version}"),
        ("dataset_id", tags.get("dataset_id", "not recorded")),
        ("ledger sha256", tags.get("ledger_digest", "not recorded")),
        ("base model", base_row(tags, base_model)),
        ("base files", tags.get("base.files_digest", "-")),
        ("fine-tuned from", parent_row(tags)),
        ("code version", tags.get("forge_version", tags.get("code_version", "not recorded"))),
        ("MLflow run", tags.get("mlflow.run_id", tags.get("run_id", "not recorded"))),
    ]
    rows = "\n".join(f"| {k} | {v} |" for k, v in lineage)
    return f"| lineage | |\n| --- | --- |\n{rows}\n"


def model_card(
    name: str,
    version: str,
    tags: dict[str, str],
    languages: list[str],
    base_model: str | None = None,
    license_id: str | None = None,
) -> str:
    """Markdown with YAML front matter: the card logged at registration when the version has one,
    else the lineage card from its tags."""
    if logged := logged_model_card(name, version):
        return logged
    return f"""{front_matter(card_metadata(languages, base_model, license_id, name))}
# {name} (version {version})

Exported by Forge from its MLflow registry. Every training document of this model is listed in
the dataset's ledger named below; `forge lineage model {name}:{version}` prints the whole record.

{lineage_table(name, version, tags, base_model)}
{LOAD}"""

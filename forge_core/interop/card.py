"""The README.md model card of an export: Hugging Face card metadata a hub or registry indexes
(base_model, license, language, library) and Forge's lineage, so the folder still says where it
came from once it is copied away from the MLflow registry."""

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


def model_card(
    name: str,
    version: str,
    tags: dict[str, str],
    languages: list[str],
    base_model: str | None = None,
    license_id: str | None = None,
) -> str:
    """Markdown with YAML front matter. Nothing is guessed: a field the records lack says so."""
    meta: dict[str, Any] = {
        "library_name": "transformers",
        "pipeline_tag": "text-generation",
        "license": license_id or "other",
        "language": languages or None,
        "tags": ["forge"],
    }
    if base_model:
        meta["base_model"] = base_model
    if not license_id:
        meta["license_name"] = "to be supplied"
    lineage = [
        ("registered model", f"{name} version {version}"),
        ("dataset_id", tags.get("dataset_id", "not recorded")),
        ("ledger sha256", tags.get("ledger_digest", "not recorded")),
        ("base model", base_row(tags, base_model)),
        ("base files", tags.get("base.files_digest", "-")),
        ("fine-tuned from", parent_row(tags)),
        ("code version", tags.get("code_version", "not recorded")),
        ("MLflow run", tags.get("mlflow.run_id", tags.get("run_id", "not recorded"))),
    ]
    rows = "\n".join(f"| {k} | {v} |" for k, v in lineage)
    front = yaml.safe_dump({k: v for k, v in meta.items() if v is not None}, sort_keys=False).strip()
    return f"""---
{front}
---

# {name} (version {version})

Exported by Forge from its MLflow registry. Every training document of this model is listed in
the dataset's ledger named below; `forge lineage model {name}:{version}` prints the whole record.

| lineage | |
| --- | --- |
{rows}

Load it with transformers, without the network:

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
model = AutoModelForCausalLM.from_pretrained(PATH, local_files_only=True)
tokenizer = AutoTokenizer.from_pretrained(PATH, local_files_only=True)
```
"""

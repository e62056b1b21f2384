"""Base models in the registry: a local Hugging Face checkpoint imported as a model version of its
own, the root of every lineage that starts from it, and any registered version read back for export.

Import converts the checkpoint once into a Forge bundle (the same pyfunc every Forge model is, so
`forge generate` and `forge eval` work on a base too) and keeps the files that are not weights
(tokenizer config, generation config, special tokens, licence) beside it, so an export of the base
or of anything trained from it carries them unchanged. The version is tagged with the sha256 of
every file of the folder, as imported: an auditor can check a copy of the base against them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from forge_core.interop.huggingface import (
    CONFIG,
    GENERATION_CONFIG,
    TOKENIZER,
    TOKENIZER_CONFIG,
    CheckpointError,
    licence_text,
    load_checkpoint,
    read_json,
)

EXPERIMENT = "forge-bases"
# Files of a checkpoint folder that travel with the base besides its weights and tokenizer.json.
CARRIED = (TOKENIZER_CONFIG, GENERATION_CONFIG, "special_tokens_map.json", "chat_template.jinja")
TAG_LIMIT = 5000  # MLflow's longest model-version tag value


def file_digests(folder: Path) -> list[dict[str, Any]]:
    """Every file under folder (hidden ones too: a .gitattributes is part of what was copied)."""
    out = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        out.append(
            {"path": path.relative_to(folder).as_posix(), "bytes": path.stat().st_size, "sha256": digest.hexdigest()}
        )
    return out


def files_digest(files: list[dict[str, Any]]) -> str:
    """One digest for the whole folder: sha256 of its `sha256  path` lines, as sha256sum prints them."""
    lines = "".join(f"{f['sha256']}  {f['path']}\n" for f in files)
    return hashlib.sha256(lines.encode()).hexdigest()


def base_tags(folder: Path, cfg: Any, architecture: str, files: list[dict[str, Any]]) -> dict[str, str]:
    licence = licence_text(folder)
    listing = json.dumps([[f["path"], f["bytes"], f["sha256"]] for f in files], separators=(",", ":"))
    tags = {
        "forge.kind": "base",
        "base.architecture": architecture,
        "base.source": str(folder.resolve()),
        "base.files_digest": files_digest(files),
        "base.files": listing if len(listing) <= TAG_LIMIT else "too long for a tag: see artifact hf/files.json",
        "base.config": json.dumps(
            {k: getattr(cfg, k) for k in ("n_layer", "n_head", "n_kv_head", "n_embd", "vocab_size", "block_size")}
        ),
    }
    if licence is not None:
        tags["base.licence_sha256"] = hashlib.sha256(licence.encode()).hexdigest()
        cut = TAG_LIMIT - 80
        tags["base.licence"] = licence if len(licence) <= TAG_LIMIT else licence[:cut] + "\n[... full text: hf/LICENSE]"
    return tags


def import_base(folder: str | Path, name: str, experiment_id: str) -> dict[str, Any]:
    """Register a local Hugging Face checkpoint as a model version named `name`; returns what was
    recorded. Nothing is fetched: every file comes from `folder`, or the import fails naming it."""
    import mlflow
    import torch

    from forge_core.export.bundle import save_bundle
    from forge_core.export.pyfunc import log_pyfunc
    from forge_core.lineage.records import register_version

    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: not a folder")
    hf = read_json(folder, CONFIG)
    for required in (TOKENIZER, TOKENIZER_CONFIG):
        read_json(folder, required)  # present and readable, or an error naming it
    files = file_digests(folder)  # before anything reads the folder further: what was imported
    dtype = getattr(torch, str(hf.get("dtype", hf.get("torch_dtype", "float32"))), torch.float32)
    model, cfg = load_checkpoint(folder, dtype=dtype if isinstance(dtype, torch.dtype) else torch.float32)
    architecture = next(a for a in hf["architectures"] if a.endswith("ForCausalLM"))
    generation = read_json(folder, GENERATION_CONFIG, required=False) or {}
    eos = generation.get("eos_token_id", hf.get("eos_token_id"))
    bos = generation.get("bos_token_id", hf.get("bos_token_id"))
    with tempfile.TemporaryDirectory(prefix="forge-base-") as tmp:
        bundle, carried = Path(tmp) / "bundle", Path(tmp) / "hf"
        carried.mkdir()
        for f in folder.iterdir():
            if f.name in CARRIED or f.name == licence_name(folder):
                shutil.copy2(f, carried / f.name)
        (carried / "files.json").write_text(json.dumps(files, indent=2) + "\n", encoding="utf-8")
        metadata = {"base": name, "architecture": architecture, "bos_token_id": bos, "eos_token_id": eos}
        save_bundle(model, (folder / TOKENIZER).read_text(encoding="utf-8"), bundle, metadata)
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"import {name}") as run:
            mlflow.set_tags({"forge.kind": "base import", "base.source": str(folder.resolve())})
            mlflow.log_params({"architecture": architecture, "parameters": model.num_params()})
            info = log_pyfunc(bundle, name, ["The"], extra={"hf": str(carried)})
    version = str(info.registered_model_version)
    tags = base_tags(folder, cfg, architecture, files)
    register_version(name, version, tags, alias="base")
    return {
        "name": name,
        "version": version,
        "run_id": run.info.run_id,
        "architecture": architecture,
        "parameters": model.num_params(),
        "files": files,
        "files_digest": tags["base.files_digest"],
        "licence": "base.licence" in tags,
    }


def licence_name(folder: Path) -> str | None:
    from forge_core.interop.huggingface import LICENSES

    return next((n for n in LICENSES if (folder / n).is_file()), None)


def load_version(ref: str) -> tuple[Any, Any, dict[str, str], Path | None]:
    """(model, tokenizer, version tags, folder of carried Hugging Face files or None) of a
    registered version, from its pyfunc."""
    import mlflow

    from forge_core.lineage.queries import resolve_model

    mv = resolve_model(ref)
    loaded = mlflow.pyfunc.load_model(f"models:/{mv.name}/{mv.version}").unwrap_python_model()
    carried = loaded.artifacts.get("hf") if hasattr(loaded, "artifacts") else None
    return mv, loaded, dict(mv.tags), Path(carried) if carried else None


def resolve_base(ref: str) -> dict[str, Any]:
    """What continued pretraining needs of a registered base: its model and tokenizer, the token
    that ends a document, and what the lineage records (name, version, file digests)."""
    from forge_core.lineage.queries import LineageError

    try:
        mv, loaded, tags, carried = load_version(ref)
    except LineageError as e:
        raise LineageError(f"train.base = {ref!r}: {e}") from None
    tokenizer_json = loaded.tokenizer.to_str()
    return {
        "ref": ref,
        "name": mv.name,
        "version": str(mv.version),
        "model": loaded.model.float().cpu(),
        "tokenizer_json": tokenizer_json,
        "tokenizer_sha256": hashlib.sha256(tokenizer_json.encode()).hexdigest(),
        "eos_id": loaded.eos_id,
        "hf_files": carried,
        "lineage": {
            "base.name": mv.name,
            "base.version": str(mv.version),
            "base.files_digest": tags.get("base.files_digest", ""),
            "base.files": tags.get("base.files", ""),
            "base.architecture": tags.get("base.architecture", "forge"),
            "base.licence_sha256": tags.get("base.licence_sha256", ""),
        },
    }

"""The trained model as files a company keeps: safetensors weights, tokenizer.json, config.json.

`forge run` and `forge train` both save a model with save_bundle, so a folder from either loads the
same way. No pickle: the weights are safetensors, so loading a model never unpickles an object that
could execute arbitrary code. `forge train` runs where only torch, lightning and numpy are
installed; there, without safetensors, the weights are a torch state dict (model.pt), and
load_bundle reads it with torch.load(weights_only=True), which refuses anything but tensors.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch

from forge_core.model.architecture import GPTConfig
from forge_core.model.gpt import GPT

WEIGHTS, TORCH_WEIGHTS, TOKENIZER, CONFIG = "model.safetensors", "model.pt", "tokenizer.json", "config.json"
GENERATION_DEFAULTS: dict[str, Any] = {"max_new_tokens": 64, "temperature": 0.8, "top_k": 50, "seed": 0}


def save_bundle(
    model: GPT, tokenizer_json: str | None, folder: str | Path, metadata: dict[str, Any] | None = None
) -> Path:
    """Write weights, tokenizer and config into folder (created); returns it.

    tokenizer_json is None when the tokenizer was not found (a token folder copied without it): the
    folder then holds the weights and config alone.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if importlib.util.find_spec("safetensors") is not None:
        from safetensors.torch import save_model

        save_model(model, str(folder / WEIGHTS))  # the tied head is stored once
    else:
        torch.save(model.state_dict(), folder / TORCH_WEIGHTS)
    if tokenizer_json is not None:
        (folder / TOKENIZER).write_text(tokenizer_json, encoding="utf-8")
    config = {"model": asdict(model.cfg), "forge": metadata or {}}
    (folder / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return folder


def weights_file(folder: str | Path) -> Path:
    """The bundle's weights: model.safetensors, or model.pt where it was saved without safetensors."""
    folder = Path(folder)
    fallback = folder / TORCH_WEIGHTS
    return fallback if fallback.exists() and not (folder / WEIGHTS).exists() else folder / WEIGHTS


def load_bundle(weights: str | Path, tokenizer: str | Path, config: str | Path, device: str = "cpu"):
    """(model in eval mode, tokenizer) from the three files of a bundle, either form of weights."""
    from tokenizers import Tokenizer

    known = {f.name for f in fields(GPTConfig)}
    spec = json.loads(Path(config).read_text(encoding="utf-8"))["model"]
    model = GPT(GPTConfig(**{k: v for k, v in spec.items() if k in known}))
    if Path(weights).name.endswith(".pt"):
        model.load_state_dict(torch.load(weights, map_location=device, weights_only=True))
    else:
        from safetensors.torch import load_model

        load_model(model, str(weights), device=device)
    return model.to(device).eval(), Tokenizer.from_file(str(tokenizer))


def end_of_text_id(tokenizer: Any, config: str | Path) -> int | None:
    """The token that ends a document: Forge's <|endoftext|>, or the eos_token_id an imported base's
    bundle config records (its tokenizer names it otherwise)."""
    eot = tokenizer.token_to_id("<|endoftext|>")
    if eot is not None:
        return eot
    eos = json.loads(Path(config).read_text(encoding="utf-8")).get("forge", {}).get("eos_token_id")
    return eos[0] if isinstance(eos, list) and eos else eos


def generate_text(
    model: GPT, tokenizer: Any, prompts: list[str], eos_id: int | None = None, **params: Any
) -> list[str]:
    """Continue each prompt; the text returned is the continuation alone, up to end of text."""
    p = GENERATION_DEFAULTS | {k: v for k, v in params.items() if v is not None}
    eot = eos_id if eos_id is not None else tokenizer.token_to_id("<|endoftext|>")
    device = next(model.parameters()).device
    generator_seed = int(p["seed"])
    out = []
    for prompt in prompts:
        torch.manual_seed(generator_seed)
        ids = tokenizer.encode(prompt, add_special_tokens=False).ids or [eot]  # empty prompt: start a document
        idx = torch.tensor(ids, dtype=torch.long, device=device)[None]
        top_k = int(p["top_k"]) if p["top_k"] and int(p["top_k"]) > 0 else None
        generated = model.generate(idx, int(p["max_new_tokens"]), float(p["temperature"]), top_k, stop=eot)
        new = [t for t in generated[0, len(ids) :].tolist() if t != eot]
        out.append(tokenizer.decode(new))
    return out


def device_for_serving() -> str:
    return "cuda" if torch.cuda.is_available() and os.environ.get("FORGE_SERVE_DEVICE", "auto") != "cpu" else "cpu"

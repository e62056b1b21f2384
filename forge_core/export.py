"""The trained model as files a company keeps: safetensors weights, tokenizer.json, config.json;
and the same bundle logged to MLflow as a pyfunc that generates text.

No pickle anywhere: the weights are safetensors, and the pyfunc is MLflow "models from code"
(forge_core/model/pyfunc.py is stored as source and run at load), so loading a model never
unpickles an object that could execute arbitrary code.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch

from forge_core.model.gpt import GPT, GPTConfig

WEIGHTS, TOKENIZER, CONFIG = "model.safetensors", "tokenizer.json", "config.json"
PYFUNC_CODE = Path(__file__).parent / "model" / "pyfunc.py"
GENERATION_DEFAULTS: dict[str, Any] = {"max_new_tokens": 64, "temperature": 0.8, "top_k": 50, "seed": 0}


def save_bundle(model: GPT, tokenizer_json: str, folder: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write weights, tokenizer and config into folder (created); returns it."""
    from safetensors.torch import save_model

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_model(model, str(folder / WEIGHTS))  # the tied head is stored once
    (folder / TOKENIZER).write_text(tokenizer_json, encoding="utf-8")
    config = {"model": asdict(model.cfg), "forge": metadata or {}}
    (folder / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return folder


def load_bundle(weights: str | Path, tokenizer: str | Path, config: str | Path, device: str = "cpu"):
    """(model in eval mode, tokenizer) from the three files of a bundle."""
    from safetensors.torch import load_model
    from tokenizers import Tokenizer

    known = {f.name for f in fields(GPTConfig)}
    spec = json.loads(Path(config).read_text(encoding="utf-8"))["model"]
    model = GPT(GPTConfig(**{k: v for k, v in spec.items() if k in known}))
    load_model(model, str(weights), device=device)
    return model.to(device).eval(), Tokenizer.from_file(str(tokenizer))


def generate_text(model: GPT, tokenizer: Any, prompts: list[str], **params: Any) -> list[str]:
    """Continue each prompt; the text returned is the continuation alone, up to end of text."""
    p = GENERATION_DEFAULTS | {k: v for k, v in params.items() if v is not None}
    eot = tokenizer.token_to_id("<|endoftext|>")
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


def log_pyfunc(bundle: Path, registered_name: str, prompts: list[str]) -> Any:
    """Log the bundle as an MLflow pyfunc in the active run and register it; returns MLflow's ModelInfo."""
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    example = pd.DataFrame({"prompt": prompts[:2] or ["The"]})
    short = GENERATION_DEFAULTS | {"max_new_tokens": 8}  # MLflow runs the example once to check it serves
    signature = infer_signature(example, pd.DataFrame({"text": ["..."] * len(example)}), params=GENERATION_DEFAULTS)
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=str(PYFUNC_CODE),
        artifacts={
            "weights": str(bundle / WEIGHTS),
            "tokenizer": str(bundle / TOKENIZER),
            "config": str(bundle / CONFIG),
        },
        # Forge's own source travels with the model, so it loads where Forge is not installed.
        code_paths=[str(Path(__file__).parent)],
        signature=signature,
        input_example=(example, short),
        pip_requirements=pinned_requirements(),
        registered_model_name=registered_name,
    )


def pinned_requirements() -> list[str]:
    """What the pyfunc needs to run, at the versions it was trained with (never inferred by MLflow,
    which would import-trace the model in a subprocess)."""
    from importlib.metadata import version

    torch_version = torch.__version__.split("+", 1)[0]
    packages = ["mlflow", "tokenizers", "safetensors", "numpy", "pandas"]
    return [f"torch=={torch_version}"] + [f"{p}=={version(p)}" for p in packages]


def device_for_serving() -> str:
    return "cuda" if torch.cuda.is_available() and os.environ.get("FORGE_SERVE_DEVICE", "auto") != "cpu" else "cpu"

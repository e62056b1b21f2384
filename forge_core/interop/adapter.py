"""A LoRA adapter trained on Forge's model, rewritten as a PEFT adapter for the Hugging Face export
of the model it was trained on (`forge export --format peft`).

Forge keeps queries, keys and values in one matrix (`attn.qkv`); Llama keeps three. An adapter
on the fused matrix adds (alpha/r) B A to it, so the adapter of each part is the same A with that
part's rows of B: exact, no approximation. The query and key rows are reordered as the weights
are for the export (rotary pairs interleaved in Forge, split in halves in Llama).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch

from forge_core.interop.huggingface import half_split
from forge_core.model.architecture import GPTConfig

ADAPTER_CONFIG, ADAPTER_WEIGHTS = "adapter_config.json", "adapter_model.safetensors"
KEY = re.compile(
    r"^base_model\.model\.blocks\.(\d+)\.(attn\.qkv|attn\.proj|ffn\.gate|ffn\.up|ffn\.down)\.(lora_[AB])\.weight$"
)
NAMES = {
    "attn.proj": "self_attn.o_proj",
    "ffn.gate": "mlp.gate_proj",
    "ffn.up": "mlp.up_proj",
    "ffn.down": "mlp.down_proj",
}

TARGETS = {
    "qkv": ["q_proj", "k_proj", "v_proj"],
    "proj": ["o_proj"],
    "gate": ["gate_proj"],
    "up": ["up_proj"],
    "down": ["down_proj"],
}


def hf_adapter_tensors(tensors: dict[str, torch.Tensor], cfg: GPTConfig) -> dict[str, torch.Tensor]:
    """Forge adapter tensors (peft's names over gpt.py's modules) -> Llama's names and layout."""
    q_rows, kv_rows = cfg.n_head * cfg.head_dim, cfg.kv_heads * cfg.head_dim
    out: dict[str, torch.Tensor] = {}
    for key, t in tensors.items():
        m = KEY.match(key)
        if m is None:
            raise ValueError(f"adapter tensor {key!r} is not on a linear layer of a Forge block")
        layer, module, part = m.groups()
        prefix = f"base_model.model.model.layers.{layer}."
        if module != "attn.qkv":
            out[f"{prefix}{NAMES[module]}.{part}.weight"] = t
            continue
        if part == "lora_A":
            for name in ("q_proj", "k_proj", "v_proj"):
                out[f"{prefix}self_attn.{name}.lora_A.weight"] = t.clone()  # stored once per layer it adapts
            continue
        q, k, v = t.split((q_rows, kv_rows, kv_rows))
        if cfg.rope_interleaved:
            q, k = half_split(q, cfg.n_head), half_split(k, cfg.kv_heads)
        for name, rows in zip(("q_proj", "k_proj", "v_proj"), (q, k, v), strict=True):
            out[f"{prefix}self_attn.{name}.lora_B.weight"] = rows
    return {k: v.contiguous() for k, v in out.items()}


def hf_adapter_config(forge: dict[str, Any], base_model: str) -> dict[str, Any]:
    targets = sorted(t for name in forge["target_modules"] for t in TARGETS[name])
    return forge | {
        "base_model_name_or_path": base_model,
        "target_modules": targets,
        "task_type": "CAUSAL_LM",
        "peft_type": "LORA",
    }


def write_hf_adapter(adapter: str | Path, cfg: GPTConfig, out: str | Path, base_model: str) -> list[str]:
    """Write the PEFT adapter for the hf export into `out` (a new folder); returns the files."""
    from safetensors.torch import load_file, save_file

    adapter, out = Path(adapter), Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty: export into a new folder")
    out.mkdir(parents=True, exist_ok=True)
    forge = json.loads((adapter / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    tensors = hf_adapter_tensors(load_file(str(adapter / ADAPTER_WEIGHTS)), cfg)
    save_file(tensors, str(out / ADAPTER_WEIGHTS), metadata={"format": "pt"})
    config = hf_adapter_config(forge, base_model)
    (out / ADAPTER_CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return sorted(p.name for p in out.iterdir())

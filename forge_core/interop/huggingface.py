"""Hugging Face checkpoint folders, in and out, without transformers.

In: a local folder of an open base model (Llama, Mistral, Qwen2) becomes a GPTConfig and a state
dict of Forge's GPT. The weights are used as they are: GPTConfig's `rope_interleaved=False` runs
Hugging Face's rotary layout natively, and the three attention projections are stacked into
Forge's one qkv matrix. Whatever Forge's model does not implement (a rope-scaling type, sliding-
window attention, biases Llama variants add) is refused with the key that asks for it, never
approximated.

Out: any Forge model becomes the Llama (or, with q/k/v biases, Qwen2) layout transformers, vLLM and
llama.cpp's converters read. Forge's own models rotate interleaved pairs, so their query and key
rows are permuted per head into the half-split order, the permutation Meta's Llama weights go
through in transformers' own converter; imported models go back out unchanged.

Only safetensors weights are read: a pickled pytorch_model.bin can run code when loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from forge_core.model.architecture import GPTConfig

ARCHITECTURES = {"LlamaForCausalLM": "llama", "MistralForCausalLM": "mistral", "Qwen2ForCausalLM": "qwen2"}
CONFIG, WEIGHTS, INDEX = "config.json", "model.safetensors", "model.safetensors.index.json"
TOKENIZER, TOKENIZER_CONFIG, GENERATION_CONFIG = "tokenizer.json", "tokenizer_config.json", "generation_config.json"
LICENSES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "LICENCE.txt", "LICENCE.md", "license.txt")
SHARD_BYTES = 5 * 1024**3  # transformers' own default max_shard_size


class CheckpointError(ValueError):
    """A checkpoint folder Forge cannot use as it is: the message names the file or key."""


# Reading ------------------------------------------------------------------------------------------
def read_json(folder: Path, name: str, required: bool = True) -> dict[str, Any] | None:
    path = folder / name
    if not path.is_file():
        if required:
            raise CheckpointError(f"{folder}: {name} is missing (a Hugging Face checkpoint folder needs it)")
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: not readable JSON ({e})") from None


def rope_theta(hf: dict[str, Any], source: str) -> float:
    """The rotary base, from transformers 5's `rope_parameters` or the older `rope_theta` and
    `rope_scaling`; any scaling (linear, dynamic, yarn, llama3, ...) is refused."""
    params = hf.get("rope_parameters")
    if isinstance(params, dict):
        kind = params.get("rope_type", params.get("type", "default"))
        if kind != "default":
            raise CheckpointError(f"{source}: rope_parameters.rope_type = {kind!r} is not implemented (only 'default')")
        return float(params.get("rope_theta", hf.get("rope_theta", 10_000.0)))
    scaling = hf.get("rope_scaling")
    if scaling:
        kind = scaling.get("rope_type", scaling.get("type")) if isinstance(scaling, dict) else scaling
        if kind != "default":
            raise CheckpointError(f"{source}: rope_scaling = {scaling!r} is not implemented (only unscaled RoPE)")
    return float(hf.get("rope_theta", 10_000.0))


def forge_config(hf: dict[str, Any], source: str) -> GPTConfig:
    """The GPTConfig of a Hugging Face config.json; `source` names the file in errors."""
    archs = hf.get("architectures") or []
    arch = next((a for a in archs if a in ARCHITECTURES), None)
    if arch is None:
        raise CheckpointError(f"{source}: architectures = {archs!r}; Forge imports {', '.join(ARCHITECTURES)}")
    family = ARCHITECTURES[arch]
    for key in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"):
        if not isinstance(hf.get(key), int):
            raise CheckpointError(f"{source}: {key} is missing or not an integer")
    if hf.get("hidden_act", "silu") != "silu":
        raise CheckpointError(f"{source}: hidden_act = {hf['hidden_act']!r} is not implemented (only 'silu')")
    if family == "llama":
        for key in ("attention_bias", "mlp_bias"):
            if hf.get(key):
                raise CheckpointError(f"{source}: {key} = true is not implemented for Llama")
    window = hf.get("sliding_window") if family == "mistral" else None
    if window is not None and window < hf.get("max_position_embeddings", 0):
        raise CheckpointError(
            f"{source}: sliding_window = {window} is below max_position_embeddings = "
            f"{hf.get('max_position_embeddings')}: sliding-window attention is not implemented"
        )
    if family == "qwen2" and hf.get("use_sliding_window"):
        raise CheckpointError(f"{source}: use_sliding_window = true: sliding-window attention is not implemented")
    heads = hf["num_attention_heads"]
    return GPTConfig(
        vocab_size=hf["vocab_size"],
        block_size=int(hf.get("max_position_embeddings", 2048)),
        n_layer=hf["num_hidden_layers"],
        n_head=heads,
        n_embd=hf["hidden_size"],
        n_kv_head=hf.get("num_key_value_heads") or heads,
        head_size=hf.get("head_dim") or hf["hidden_size"] // heads,
        ffn_size=hf["intermediate_size"],
        tie_embeddings=bool(hf.get("tie_word_embeddings", False)),
        qkv_bias=family == "qwen2",
        norm_eps=float(hf.get("rms_norm_eps", 1e-6)),
        rope_theta=rope_theta(hf, source),
        rope_interleaved=False,
    )


def weight_files(folder: Path) -> list[Path]:
    """The safetensors files of a checkpoint: one, or the shards its index names (each must exist)."""
    index = read_json(folder, INDEX, required=False)
    if index is not None:
        names = sorted(set((index.get("weight_map") or {}).values()))
        if not names:
            raise CheckpointError(f"{folder / INDEX}: weight_map is empty")
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise CheckpointError(f"{folder / INDEX} names shards that are missing: {', '.join(missing)}")
        return [folder / n for n in names]
    if (folder / WEIGHTS).is_file():
        return [folder / WEIGHTS]
    pickled = [p.name for p in folder.glob("*.bin")] + [p.name for p in folder.glob("*.pt")]
    hint = f" ({', '.join(pickled)} is pickle, which can run code when loaded: convert it to safetensors)"
    raise CheckpointError(f"{folder}: neither {WEIGHTS} nor {INDEX} is there" + (hint if pickled else ""))


def read_tensors(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    tensors: dict[str, torch.Tensor] = {}
    for path in weight_files(folder):
        try:
            tensors.update(load_file(str(path)))
        except Exception as e:  # safetensors raises its own error types for truncated or bad headers
            raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None
    return tensors


def forge_state(cfg: GPTConfig, hf: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """Forge's state dict from Hugging Face tensor names; a missing or left-over tensor is an error."""
    hf = dict(hf)

    def take(name: str) -> torch.Tensor:
        if name not in hf:
            raise CheckpointError(f"{source}: tensor {name} is missing")
        return hf.pop(name)

    out = {"embed.weight": take("model.embed_tokens.weight"), "norm.weight": take("model.norm.weight")}
    for i in range(cfg.n_layer):
        hf_layer, layer = f"model.layers.{i}.", f"blocks.{i}."
        attn = hf_layer + "self_attn."
        out[layer + "attn_norm.weight"] = take(hf_layer + "input_layernorm.weight")
        out[layer + "attn.qkv.weight"] = torch.cat([take(f"{attn}{p}_proj.weight") for p in "qkv"])
        if cfg.qkv_bias:
            out[layer + "attn.qkv.bias"] = torch.cat([take(f"{attn}{p}_proj.bias") for p in "qkv"])
        out[layer + "attn.proj.weight"] = take(attn + "o_proj.weight")
        out[layer + "ffn_norm.weight"] = take(hf_layer + "post_attention_layernorm.weight")
        for mine, theirs in (("gate", "gate_proj"), ("up", "up_proj"), ("down", "down_proj")):
            out[f"{layer}ffn.{mine}.weight"] = take(f"{hf_layer}mlp.{theirs}.weight")
    head = hf.pop("lm_head.weight", None)
    if not cfg.tie_embeddings:
        if head is None:
            raise CheckpointError(f"{source}: tensor lm_head.weight is missing (tie_word_embeddings is false)")
        out["head.weight"] = head
    else:
        out["head.weight"] = out["embed.weight"]  # one matrix in the model; the state dict names it twice
    leftover = sorted(n for n in hf if not n.endswith("rotary_emb.inv_freq"))
    if leftover:
        raise CheckpointError(f"{source}: tensors Forge's model has no place for: {', '.join(leftover[:5])}")
    return out


def load_checkpoint(folder: str | Path, dtype: torch.dtype = torch.float32):
    """(GPT in eval mode, its GPTConfig) from a Hugging Face checkpoint folder."""
    from forge_core.model.gpt import GPT

    folder = Path(folder)
    cfg = forge_config(read_json(folder, CONFIG), str(folder / CONFIG))
    state = forge_state(cfg, read_tensors(folder), str(folder))
    model = GPT(cfg)
    try:
        model.load_state_dict({k: v.to(dtype) for k, v in state.items()}, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{folder}: tensor shapes do not match config.json: {e}") from None
    return model.to(dtype).eval(), cfg


def licence_text(folder: Path) -> str | None:
    for name in LICENSES:
        if (folder / name).is_file():
            return (folder / name).read_text(encoding="utf-8", errors="replace")
    return None


# Writing ------------------------------------------------------------------------------------------
def half_split(w: torch.Tensor, heads: int) -> torch.Tensor:
    """Rows of a query or key projection (or its bias) from interleaved rotary pairs to half-split:
    within each head, channels (0, 1), (2, 3), ... become (0, D/2), (1, D/2 + 1), ..."""
    rows = w.shape[0]
    d = rows // heads
    return w.reshape(heads, d // 2, 2, *w.shape[1:]).transpose(1, 2).reshape(rows, *w.shape[1:])


def hf_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Hugging Face tensor names and layout for a Forge GPT's weights."""
    cfg: GPTConfig = model.cfg
    state = {k: v.detach() for k, v in model.state_dict().items()}
    q_rows, kv_rows = cfg.n_head * cfg.head_dim, cfg.kv_heads * cfg.head_dim
    out = {"model.embed_tokens.weight": state["embed.weight"], "model.norm.weight": state["norm.weight"]}
    for i in range(cfg.n_layer):
        hf_layer, layer = f"model.layers.{i}.", f"blocks.{i}."
        for kind in ("weight", "bias") if cfg.qkv_bias else ("weight",):
            q, k, v = state[f"{layer}attn.qkv.{kind}"].split((q_rows, kv_rows, kv_rows))
            if cfg.rope_interleaved:
                q, k = half_split(q, cfg.n_head), half_split(k, cfg.kv_heads)
            for name, t in zip("qkv", (q, k, v), strict=True):
                out[f"{hf_layer}self_attn.{name}_proj.{kind}"] = t
        out[hf_layer + "self_attn.o_proj.weight"] = state[layer + "attn.proj.weight"]
        out[hf_layer + "input_layernorm.weight"] = state[layer + "attn_norm.weight"]
        out[hf_layer + "post_attention_layernorm.weight"] = state[layer + "ffn_norm.weight"]
        for mine, theirs in (("gate", "gate_proj"), ("up", "up_proj"), ("down", "down_proj")):
            out[f"{hf_layer}mlp.{theirs}.weight"] = state[f"{layer}ffn.{mine}.weight"]
    if not cfg.tie_embeddings:
        out["lm_head.weight"] = state["head.weight"]
    return {k: v.contiguous() for k, v in out.items()}


def hf_config(cfg: GPTConfig, dtype: torch.dtype, bos: int | None, eos: int | None) -> dict[str, Any]:
    """config.json for the export: Llama, or Qwen2 where the model has q/k/v biases."""
    qwen = cfg.qkv_bias
    out: dict[str, Any] = {
        "architectures": ["Qwen2ForCausalLM" if qwen else "LlamaForCausalLM"],
        "model_type": "qwen2" if qwen else "llama",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.n_embd,
        "intermediate_size": cfg.ffn_hidden,
        "num_hidden_layers": cfg.n_layer,
        "num_attention_heads": cfg.n_head,
        "num_key_value_heads": cfg.kv_heads,
        "head_dim": cfg.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": cfg.block_size,
        "rms_norm_eps": cfg.norm_eps,
        "rope_theta": cfg.rope_theta,  # read by transformers 4, and by 5 into rope_parameters
        "rope_parameters": {"rope_type": "default", "rope_theta": cfg.rope_theta},
        "tie_word_embeddings": cfg.tie_embeddings,
        "dtype": str(dtype).removeprefix("torch."),
        "bos_token_id": bos,
        "eos_token_id": eos,
    }
    if qwen:
        out |= {"use_sliding_window": False, "sliding_window": None}
    else:
        out |= {"attention_bias": False, "mlp_bias": False}
    return out


def write_weights(tensors: dict[str, torch.Tensor], folder: Path, shard_bytes: int = SHARD_BYTES) -> list[str]:
    """model.safetensors, or shards and their index past shard_bytes (as save_pretrained writes them)."""
    from safetensors.torch import save_file

    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, t in tensors.items():
        n = t.numel() * t.element_size()
        if shards[-1] and size + n > shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = t
        size += n
    metadata = {"format": "pt"}
    if len(shards) == 1:
        save_file(shards[0], str(folder / WEIGHTS), metadata=metadata)
        return [WEIGHTS]
    names = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
    weight_map = {}
    for name, shard in zip(names, shards, strict=True):
        save_file(shard, str(folder / name), metadata=metadata)
        weight_map |= dict.fromkeys(shard, name)
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / INDEX).write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return [*names, INDEX]


def forge_tokenizer_config(tokenizer: Any, block_size: int) -> dict[str, Any]:
    """tokenizer_config.json for Forge's own byte-level BPE: transformers' fast tokenizer over the
    same tokenizer.json, adding no special tokens, so it gives Forge's ids."""
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
        "pad_token": "<|pad|>" if tokenizer.token_to_id("<|pad|>") is not None else None,
        "model_max_length": block_size,
        "clean_up_tokenization_spaces": False,
        "add_bos_token": False,
        "add_eos_token": False,
    }


def save_folder(
    model: torch.nn.Module,
    tokenizer: Any,
    out: str | Path,
    card: str,
    hf_files: Path | None = None,
    dtype: torch.dtype = torch.float32,
    shard_bytes: int = SHARD_BYTES,
    chat: Any = None,
) -> list[str]:
    """Write a Hugging Face checkpoint folder for a Forge model; returns the files written.

    `tokenizer` is the model's tokenizers.Tokenizer. An imported base's own tokenizer_config.json,
    generation_config.json, special tokens and licence (hf_files) go out unchanged; a Forge-trained
    model gets a tokenizer_config.json and a generation_config.json whose bos and eos are its
    <|endoftext|>. A model fine-tuned on conversations (chat: its ChatSpec) carries the template it
    was tuned with in tokenizer_config.json, and generation_config.json stops at its end-of-turn
    token as well as at end of text, so transformers' generate ends the reply where Forge does.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty: export into a new folder")
    out.mkdir(parents=True, exist_ok=True)
    cfg: GPTConfig = model.cfg
    carried = {p.name: p for p in sorted(hf_files.iterdir())} if hf_files is not None and hf_files.is_dir() else {}
    generation = (
        json.loads(carried[GENERATION_CONFIG].read_text(encoding="utf-8")) if GENERATION_CONFIG in carried else None
    )
    eot = tokenizer.token_to_id("<|endoftext|>")
    bos = generation.get("bos_token_id") if generation else eot
    eos = generation.get("eos_token_id") if generation else eot
    write_weights({k: v.to(dtype) for k, v in hf_state(model).items()}, out, shard_bytes)
    files = {
        CONFIG: hf_config(cfg, dtype, bos, eos),
        GENERATION_CONFIG: generation or {"bos_token_id": eot, "eos_token_id": eot, "max_length": cfg.block_size},
    }
    if TOKENIZER_CONFIG not in carried:
        files[TOKENIZER_CONFIG] = forge_tokenizer_config(tokenizer, cfg.block_size)
    if chat is not None:
        tokenizer_config = files.get(TOKENIZER_CONFIG) or json.loads(
            carried[TOKENIZER_CONFIG].read_text(encoding="utf-8")
        )
        files[TOKENIZER_CONFIG] = tokenizer_config | {"chat_template": chat.template}
        stops = list(chat.stop_ids)
        files[GENERATION_CONFIG] = files[GENERATION_CONFIG] | {"eos_token_id": stops[0] if len(stops) == 1 else stops}
    for name, value in files.items():
        (out / name).write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out / TOKENIZER).write_text(tokenizer.to_str(), encoding="utf-8")
    for name, path in carried.items():
        if name not in (GENERATION_CONFIG, TOKENIZER, CONFIG, *files) and path.is_file():
            (out / name).write_bytes(path.read_bytes())
    (out / "README.md").write_text(card, encoding="utf-8")
    return sorted(p.name for p in out.iterdir())

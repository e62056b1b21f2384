"""llama.cpp's GGUF: one file with the weights, the architecture's metadata and the tokenizer,
written with the `gguf` package (llama.cpp's own Python writer).

Tensor names and layouts follow llama.cpp's converter (convert_hf_to_gguf.py): the `llama`
architecture rotates interleaved pairs, so a model in Hugging Face's half-split layout (an import)
has its query and key rows put back in interleaved order, while Forge's own models are written as
they are; `qwen2` (a model with q/k/v biases) rotates half-split pairs and takes them unchanged.

The tokenizer: byte-level BPE (Forge's own, GPT-2 style, and the tokenizer.json of Llama 3 and
Qwen2 bases) as tokenizer model "gpt2" with its vocabulary, merges and token types, and the
pre-tokenizer declared in `tokenizer.ggml.pre` (llama.cpp picks its split regex by that name).
Other tokenizer kinds are refused by name rather than written wrong.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from forge_core.model.architecture import GPTConfig

DTYPES = ("f32", "f16", "bf16")


def interleaved(w: torch.Tensor, heads: int) -> torch.Tensor:
    """Inverse of huggingface.half_split: channels (i, i + D/2) back to adjacent pairs."""
    rows = w.shape[0]
    d = rows // heads
    return w.reshape(heads, 2, d // 2, *w.shape[1:]).transpose(1, 2).reshape(rows, *w.shape[1:])


def gguf_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """GGUF names for the model's weights, in llama.cpp's layout for the architecture."""
    cfg: GPTConfig = model.cfg
    state = {k: v.detach().float() for k, v in model.state_dict().items()}
    q_rows, kv_rows = cfg.n_head * cfg.head_dim, cfg.kv_heads * cfg.head_dim
    to_interleaved = not cfg.qkv_bias and not cfg.rope_interleaved
    from forge_core.interop.huggingface import half_split

    to_half = cfg.qkv_bias and cfg.rope_interleaved
    out = {"token_embd.weight": state["embed.weight"], "output_norm.weight": state["norm.weight"]}
    if not cfg.tie_embeddings:
        out["output.weight"] = state["head.weight"]
    for i in range(cfg.n_layer):
        layer, blk = f"blocks.{i}.", f"blk.{i}."
        for kind in ("weight", "bias") if cfg.qkv_bias else ("weight",):
            q, k, v = state[f"{layer}attn.qkv.{kind}"].split((q_rows, kv_rows, kv_rows))
            if to_interleaved:
                q, k = interleaved(q, cfg.n_head), interleaved(k, cfg.kv_heads)
            elif to_half:
                q, k = half_split(q, cfg.n_head), half_split(k, cfg.kv_heads)
            out |= {f"{blk}attn_q.{kind}": q, f"{blk}attn_k.{kind}": k, f"{blk}attn_v.{kind}": v}
        out[f"{blk}attn_output.weight"] = state[layer + "attn.proj.weight"]
        out[f"{blk}attn_norm.weight"] = state[layer + "attn_norm.weight"]
        out[f"{blk}ffn_norm.weight"] = state[layer + "ffn_norm.weight"]
        for mine, theirs in (("gate", "ffn_gate"), ("up", "ffn_up"), ("down", "ffn_down")):
            out[f"{blk}{theirs}.weight"] = state[f"{layer}ffn.{mine}.weight"]
    return {k: v.contiguous() for k, v in out.items()}


def tokenizer_fields(tokenizer_json: str, pre: str) -> dict[str, Any]:
    """tokens, token types and merges of a byte-level BPE tokenizer.json."""
    spec = json.loads(tokenizer_json)
    model = spec.get("model") or {}
    if model.get("type") != "BPE" or "ByteLevel" not in json.dumps(spec.get("pre_tokenizer")):
        raise ValueError(
            f"tokenizer.json: model type {model.get('type')!r} with pre_tokenizer "
            f"{(spec.get('pre_tokenizer') or {}).get('type')!r}: only byte-level BPE is written to GGUF"
        )
    vocab: dict[str, int] = dict(model["vocab"])
    special = {t["content"]: t["id"] for t in spec.get("added_tokens", [])}
    vocab |= special
    size = max(vocab.values()) + 1
    tokens = [f"[PAD{i}]" for i in range(size)]
    for text, i in vocab.items():
        tokens[i] = text
    # llama.cpp's token types: 1 normal, 3 control (special), 5 unused (a gap in the ids).
    types = [3 if t in special else 1 for t in tokens]
    types = [5 if tokens[i] == f"[PAD{i}]" and tokens[i] not in vocab else t for i, t in enumerate(types)]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    return {"tokens": tokens, "types": types, "merges": merges, "pre": pre}


def write_gguf(
    model: torch.nn.Module,
    tokenizer_json: str,
    path: str | Path,
    name: str,
    dtype: str = "f16",
    bos: int | None = None,
    eos: int | None = None,
    pre: str = "gpt-2",
) -> Path:
    """Write the model and its tokenizer to one GGUF file; returns its path."""
    import gguf

    if dtype not in DTYPES:
        raise ValueError(f"--dtype {dtype!r}: GGUF export writes {', '.join(DTYPES)}")
    cfg: GPTConfig = model.cfg
    arch = "qwen2" if cfg.qkv_bias else "llama"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tok = tokenizer_fields(tokenizer_json, pre)
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(name)
    writer.add_context_length(cfg.block_size)
    writer.add_embedding_length(cfg.n_embd)
    writer.add_block_count(cfg.n_layer)
    writer.add_feed_forward_length(cfg.ffn_hidden)
    writer.add_head_count(cfg.n_head)
    writer.add_head_count_kv(cfg.kv_heads)
    writer.add_rope_dimension_count(cfg.head_dim)
    writer.add_rope_freq_base(cfg.rope_theta)
    writer.add_layer_norm_rms_eps(cfg.norm_eps)
    writer.add_vocab_size(cfg.vocab_size)
    file_type = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16}
    writer.add_file_type(file_type.get(dtype, gguf.LlamaFileType.MOSTLY_BF16))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(tok["pre"])
    writer.add_token_list(tok["tokens"])
    writer.add_token_types(tok["types"])
    writer.add_token_merges(tok["merges"])
    if bos is not None:
        writer.add_bos_token_id(bos)
    if eos is not None:
        writer.add_eos_token_id(eos)
    writer.add_add_bos_token(False)
    for tensor_name, t in gguf_tensors(model).items():
        data = t.numpy().astype(np.float32)
        # llama.cpp keeps 1-D tensors (norms, biases) in f32 whatever the file type, as its converter does.
        if dtype == "f16" and data.ndim > 1:
            writer.add_tensor(tensor_name, data.astype(np.float16))
        elif dtype == "bf16" and data.ndim > 1:
            raw = gguf.quants.quantize(data, gguf.GGMLQuantizationType.BF16)
            writer.add_tensor(tensor_name, raw, raw_dtype=gguf.GGMLQuantizationType.BF16)
        else:
            writer.add_tensor(tensor_name, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path

"""Hugging Face checkpoints in and out: small random Llama, Mistral and Qwen2 models built with
transformers in fp32 (nothing downloaded), imported into Forge's GPT, and compared with
transformers' own outputs, as the field tests its converters."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import torch

from forge_core.interop.huggingface import CheckpointError, hf_state, load_checkpoint, write_weights
from forge_core.model.architecture import GPTConfig
from forge_core.model.gpt import GPT

transformers = pytest.importorskip("transformers")

SHAPE = dict(
    vocab_size=128,
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,  # grouped-query attention: 2 queries share each key/value head
    max_position_embeddings=64,
)
VARIANTS = {
    "llama-gqa-untied-theta1e4": ("LlamaConfig", "LlamaForCausalLM", {"rope_theta": 1e4, "tie_word_embeddings": False}),
    "llama-tied-theta1e6": ("LlamaConfig", "LlamaForCausalLM", {"rope_theta": 1e6, "tie_word_embeddings": True}),
    "llama-mha-eps": ("LlamaConfig", "LlamaForCausalLM", {"num_key_value_heads": 4, "rms_norm_eps": 1e-5}),
    "mistral-head-dim": ("MistralConfig", "MistralForCausalLM", {"head_dim": 8, "sliding_window": None}),
    "qwen2-biases": ("Qwen2Config", "Qwen2ForCausalLM", {"rope_theta": 1e6, "tie_word_embeddings": True}),
}


def build(folder: Path, variant: str, seed: int = 0, **save) -> torch.nn.Module:
    config_cls, model_cls, extra = VARIANTS[variant]
    torch.manual_seed(seed)
    config = getattr(transformers, config_cls)(**(SHAPE | extra))
    model = getattr(transformers, model_cls)(config).eval()
    with torch.no_grad():  # random init leaves the norms at 1 and Qwen2's biases at 0: make them count
        for name, p in model.named_parameters():
            if name.endswith(("norm.weight", "bias")):
                p.copy_(1 + 0.1 * torch.randn_like(p) if "norm" in name else 0.1 * torch.randn_like(p))
    model.save_pretrained(folder, **save)
    return model


TOKENS = torch.randint(0, SHAPE["vocab_size"], (2, 48), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_imported_logits_equal_transformers(tmp_path, variant):
    reference = build(tmp_path, variant)
    model, cfg = load_checkpoint(tmp_path)
    with torch.no_grad():
        theirs = reference(TOKENS).logits
        ours, _ = model(TOKENS)
    assert cfg.rope_interleaved is False
    assert (ours - theirs).abs().max().item() < 1e-4


def test_a_sharded_checkpoint_imports_like_one_file(tmp_path):
    reference = build(tmp_path, "llama-gqa-untied-theta1e4", max_shard_size="40KB")
    assert (tmp_path / "model.safetensors.index.json").exists()
    assert len(list(tmp_path.glob("model-*.safetensors"))) > 1
    model, _ = load_checkpoint(tmp_path)
    with torch.no_grad():
        assert (model(TOKENS)[0] - reference(TOKENS).logits).abs().max().item() < 1e-4


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_export_of_an_import_is_the_checkpoint_tensor_for_tensor(tmp_path, variant):
    from safetensors.torch import load_file

    build(tmp_path / "in", variant)
    model, _ = load_checkpoint(tmp_path / "in")
    (tmp_path / "out").mkdir()
    write_weights(hf_state(model), tmp_path / "out", shard_bytes=40_000)
    original = load_file(str(tmp_path / "in" / "model.safetensors"))
    exported = {}
    for shard in (tmp_path / "out").glob("*.safetensors"):
        exported |= load_file(str(shard))
    if model.cfg.tie_embeddings:
        original.pop("lm_head.weight", None)
    assert exported.keys() == original.keys()
    assert all(torch.equal(exported[k], original[k]) for k in original)


def test_forge_models_export_to_llama_with_the_rotary_pairs_permuted(tmp_path):
    """A Forge model (interleaved rotary pairs) gives transformers' LlamaForCausalLM the same logits."""
    from forge_core.interop.huggingface import hf_config

    torch.manual_seed(3)
    cfg = GPTConfig(vocab_size=97, block_size=64, n_layer=2, n_head=4, n_embd=64)
    model = GPT(cfg).eval()
    (tmp_path / "config.json").write_text(json.dumps(hf_config(cfg, torch.float32, 0, 0)))
    write_weights(hf_state(model), tmp_path)
    theirs = transformers.AutoModelForCausalLM.from_pretrained(tmp_path, local_files_only=True).eval()
    tokens = TOKENS % 97
    with torch.no_grad():
        assert (model(tokens)[0] - theirs(tokens).logits).abs().max().item() < 1e-4


@pytest.mark.parametrize(
    "change, named",
    [
        ({"rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1e4}}, "rope_type"),
        ({"architectures": ["GPT2LMHeadModel"]}, "architectures"),
        ({"hidden_act": "gelu"}, "hidden_act"),
        ({"attention_bias": True}, "attention_bias"),
    ],
)
def test_what_the_model_does_not_implement_is_refused_by_name(tmp_path, change, named):
    build(tmp_path, "llama-tied-theta1e6")
    config = json.loads((tmp_path / "config.json").read_text()) | change
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=named):
        load_checkpoint(tmp_path)


def test_mistral_sliding_window_is_refused(tmp_path):
    build(tmp_path, "mistral-head-dim")
    config = json.loads((tmp_path / "config.json").read_text()) | {"sliding_window": 16}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="sliding_window = 16"):
        load_checkpoint(tmp_path)


def test_missing_files_and_tensors_are_named(tmp_path):
    build(tmp_path, "llama-tied-theta1e6")
    (tmp_path / "model.safetensors").rename(tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*pytorch_model\.bin is pickle"):
        load_checkpoint(tmp_path)
    (tmp_path / "config.json").unlink()
    with pytest.raises(CheckpointError, match="config.json is missing"):
        load_checkpoint(tmp_path)


def test_import_opens_no_socket(tmp_path, monkeypatch):
    build(tmp_path, "qwen2-biases")

    def refuse(*args, **kwargs):
        raise AssertionError("a socket was opened while importing a local checkpoint")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    model, _ = load_checkpoint(tmp_path)
    assert model.cfg.qkv_bias

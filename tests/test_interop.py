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


# Export of Forge's own models ----------------------------------------------------------------------
TEXT = (Path(__file__).parents[1] / "data_samples" / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def forge_model():
    """A Forge model with Forge's own BPE, trained for a few steps so that its argmax is not a coin toss."""
    from forge_core.tokenize import TokenizeConfig, train_tokenizer

    tokenizer = train_tokenizer([TEXT], TokenizeConfig(vocab_size=400, min_frequency=2))
    torch.manual_seed(5)
    model = GPT(GPTConfig(vocab_size=tokenizer.get_vocab_size(), block_size=128, n_layer=2, n_head=4, n_embd=64))
    ids = torch.tensor(tokenizer.encode(TEXT).ids[: 64 * 33])
    batch = ids[: (len(ids) // 65) * 65].view(-1, 65)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(30):
        _, loss = model(batch[:, :-1].contiguous(), batch[:, 1:].contiguous())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), tokenizer


def test_a_forge_model_exported_to_hf_continues_text_as_forge_does(tmp_path, forge_model):
    from forge_core.export.bundle import generate_text
    from forge_core.interop.card import model_card
    from forge_core.interop.huggingface import save_folder

    model, tokenizer = forge_model
    card = model_card("forge-lm", "3", {"dataset_id": "ds-0123", "ledger_digest": "ab" * 32}, ["en"])
    files = save_folder(model, tokenizer, tmp_path / "hf", card)
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= set(files)
    assert "dataset_id | ds-0123" in (tmp_path / "hf" / "README.md").read_text()
    hf_model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf", local_files_only=True).eval()
    hf_tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf", local_files_only=True)
    prompt = "The calibration of the sensors"
    assert hf_tok(prompt)["input_ids"] == tokenizer.encode(prompt).ids  # same ids through transformers
    ours = generate_text(model, tokenizer, [prompt], max_new_tokens=32, temperature=0.0)[0]
    ids = hf_tok(prompt, return_tensors="pt")["input_ids"]
    out = hf_model.generate(ids, max_new_tokens=32, do_sample=False)
    eot = tokenizer.token_to_id("<|endoftext|>")
    theirs = hf_tok.decode([t for t in out[0, ids.shape[1] :].tolist() if t != eot])
    assert ours == theirs and len(ours) > 0
    generation = json.loads((tmp_path / "hf" / "generation_config.json").read_text())
    assert generation["eos_token_id"] == generation["bos_token_id"] == eot


@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
def test_gguf_reads_back_with_every_tensor_equal(tmp_path, forge_model, dtype):
    import gguf
    import numpy as np

    from forge_core.interop.gguf_file import gguf_tensors, write_gguf

    model, tokenizer = forge_model
    path = write_gguf(model, tokenizer.to_str(), tmp_path / "m.gguf", "forge-lm", dtype=dtype, bos=0, eos=0)
    reader = gguf.GGUFReader(str(path))
    source = gguf_tensors(model)
    read = {t.name: t for t in reader.tensors}
    assert read.keys() == source.keys()
    for name, t in source.items():
        data = np.asarray(read[name].data)
        expected = t.numpy()
        if expected.ndim == 1 or dtype == "f32":
            assert np.array_equal(data.reshape(expected.shape), expected), name
        elif dtype == "f16":
            assert np.array_equal(data.reshape(expected.shape), expected.astype(np.float16)), name
        else:
            bits = t.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
            assert np.array_equal(data.view(np.uint16).reshape(expected.shape), bits), name
    field = reader.get_field("tokenizer.ggml.pre")
    assert bytes(field.parts[field.data[0]]).decode() == "gpt-2"
    assert len(reader.get_field("tokenizer.ggml.tokens").data) == tokenizer.get_vocab_size()


def test_gguf_of_an_import_puts_rotary_pairs_back_in_llama_cpp_order(tmp_path):
    """llama.cpp's converter un-permutes Hugging Face's q/k rows for the llama architecture: so do we."""
    from forge_core.interop.gguf_file import gguf_tensors, interleaved
    from forge_core.interop.huggingface import half_split

    reference = build(tmp_path, "llama-gqa-untied-theta1e4")
    model, _ = load_checkpoint(tmp_path)
    q = reference.model.layers[0].self_attn.q_proj.weight.detach()
    written = gguf_tensors(model)["blk.0.attn_q.weight"]
    assert torch.equal(written, interleaved(q, 4)) and torch.equal(half_split(written, 4), q)


# forge base import and forge export, as a user types them ----------------------------------------
def test_base_import_registers_the_files_and_exports_them_back_unchanged(tmp_path, monkeypatch):
    import gguf
    from safetensors.torch import load_file
    from typer.testing import CliRunner

    from forge.cli import app
    from forge_core.tokenize import TokenizeConfig, train_tokenizer

    base = tmp_path / "TinyQwen-0.1B"
    config_cls, model_cls, extra = VARIANTS["qwen2-biases"]
    tokenizer = train_tokenizer([TEXT], TokenizeConfig(vocab_size=300, min_frequency=2))
    torch.manual_seed(7)
    config = getattr(transformers, config_cls)(**(SHAPE | extra | {"vocab_size": 300, "eos_token_id": 0}))
    getattr(transformers, model_cls)(config).save_pretrained(base)
    tokenizer.save(str(base / "tokenizer.json"))
    (base / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|endoftext|>"})
    )
    (base / "LICENSE").write_text("Tiny licence: use it for tests only.\n")
    ws = tmp_path / "ws"

    def refuse(*args, **kwargs):
        raise AssertionError("a socket was opened during forge base import")

    monkeypatch.setattr(socket, "create_connection", refuse)  # loopback included: a local import needs none
    runner = CliRunner()
    result = runner.invoke(app, ["base", "import", str(base), "--workspace", str(ws), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["name"] == "TinyQwen-0.1B" and record["licence"]
    assert {f["path"] for f in record["files"]} >= {"config.json", "model.safetensors", "tokenizer.json", "LICENSE"}

    from mlflow import MlflowClient

    mv = MlflowClient().get_model_version_by_alias("TinyQwen-0.1B", "base")
    assert mv.tags["base.licence"].startswith("Tiny licence") and mv.tags["forge.kind"] == "base"
    assert mv.tags["base.files_digest"] == record["files_digest"]

    out = tmp_path / "export"
    result = runner.invoke(app, ["export", "TinyQwen-0.1B@base", "--out", str(out), "--workspace", str(ws)])
    assert result.exit_code == 0, result.output
    original, exported = load_file(str(base / "model.safetensors")), load_file(str(out / "model.safetensors"))
    original.pop("lm_head.weight", None)  # tied: stored once
    assert exported.keys() == original.keys() and all(torch.equal(exported[k], original[k]) for k in original)
    assert (out / "LICENSE").read_text() == (base / "LICENSE").read_text()
    assert json.loads((out / "config.json").read_text())["architectures"] == ["Qwen2ForCausalLM"]
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(out, local_files_only=True).eval()
    with torch.no_grad():
        reference = transformers.AutoModelForCausalLM.from_pretrained(base, local_files_only=True).eval()
        assert torch.equal(reloaded(TOKENS).logits, reference(TOKENS).logits)

    result = runner.invoke(
        app, ["export", "TinyQwen-0.1B", "--format", "gguf", "--out", str(tmp_path / "m.gguf"), "--workspace", str(ws)]
    )
    assert result.exit_code == 0, result.output
    reader = gguf.GGUFReader(str(tmp_path / "m.gguf"))
    arch = reader.get_field("general.architecture")
    assert bytes(arch.parts[arch.data[0]]).decode() == "qwen2"

    again = runner.invoke(app, ["export", "TinyQwen-0.1B", "--out", str(out), "--workspace", str(ws)])
    assert again.exit_code == 1 and "exists" in again.output

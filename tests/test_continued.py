"""Continued pretraining, end to end: a small random Llama base (built with transformers, nothing
downloaded) imported with `forge base import`, then `forge run` with train.base on the demo corpus,
then everything the records say about where the new model started."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
import yaml
from conftest import SAMPLES
from test_cli import forge
from typer.testing import CliRunner

from forge.cli import app
from forge_core.io.workspace import Workspace
from forge_core.lineage.tracking import use_workspace_tracking

transformers = pytest.importorskip("transformers")

BASE = "tiny-llama-base"
MODEL = "forge-continued"


def build_base(folder: Path) -> None:
    """A 2-layer Llama with grouped-query attention and an untied head, with a byte-level BPE of the
    demo corpus as its tokenizer (a real base brings its own; this one needs no download)."""
    from forge_core.tokenize import TokenizeConfig, train_tokenizer

    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted((SAMPLES / "corpus").rglob("*.md"))]
    tokenizer = train_tokenizer(texts, TokenizeConfig(vocab_size=512))
    torch.manual_seed(11)
    config = transformers.LlamaConfig(
        vocab_size=512,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=False,
        bos_token_id=0,
        eos_token_id=0,
    )
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|endoftext|>"})
    )
    (folder / "LICENSE").write_text("Test licence for a random base.\n")


@pytest.fixture(scope="module")
def continued(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("continued")
    build_base(home / "base")
    done = forge("base", "import", "base", "--name", BASE, "--workspace", "ws", "--json", cwd=home)
    assert done.returncode == 0, done.stderr[-4000:]
    imported = json.loads(done.stdout.strip().splitlines()[-1])
    config = {
        "train": {"base": f"{BASE}@base", "max_steps": 40, "eval_every": 20, "batch_size": 4, "block_size": 128},
        "eval": {"max_batches": 4, "samples": 1, "max_new_tokens": 8},
        "registry": {"model_name": MODEL},
        "dask": {"n_workers": 2},
    }
    (home / "continue.yaml").write_text(yaml.safe_dump(config))
    done = forge("run", str(SAMPLES / "corpus"), "--workspace", "ws", "--config", "continue.yaml", "--json", cwd=home)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    use_workspace_tracking(Workspace(str(home / "ws")))
    return {"home": home, "imported": imported, "result": result}


def test_continued_pretraining_lowers_held_out_bits_per_byte_below_the_base(continued):
    r = continued["result"]
    print(f"\nheld-out bits per byte: base {r['initial_val_bpb']:.4f}, after {r['steps']} steps {r['val_bpb']:.4f}")
    assert r["val_bpb"] < r["initial_val_bpb"]  # the step-0 evaluation is the base's own
    from mlflow import MlflowClient

    metrics = MlflowClient().get_run(r["train_run_id"]).data.metrics
    assert metrics["base_val_bpb"] == pytest.approx(r["initial_val_bpb"], abs=1e-4)
    assert metrics["eval_val_bpb"] == pytest.approx(r["val_bpb"], abs=1e-4)


def test_tokens_come_from_the_base_tokenizer_named_in_the_manifest_and_the_dataset_id(continued):
    home, r = continued["home"], continued["result"]
    tokenizer = (home / "base" / "tokenizer.json").read_text(encoding="utf-8")
    from tokenizers import Tokenizer

    digest = hashlib.sha256(Tokenizer.from_str(tokenizer).to_str().encode()).hexdigest()
    manifest = json.loads((Path(r["dataset"]) / "tokens" / "manifest.json").read_text())
    assert manifest["tokenizer_sha256"] == digest
    assert manifest["base"]["name"] == BASE
    # The same corpus and settings without a base make another dataset version.
    from forge_core.config import ForgeConfig

    assert ForgeConfig().data_settings(digest) != ForgeConfig().data_settings()


def test_the_registered_version_names_its_base_and_the_base_files(continued):
    from mlflow import MlflowClient

    r, imported = continued["result"], continued["imported"]
    mv = MlflowClient().get_model_version(MODEL, r["model_version"])
    assert mv.tags["base.name"] == BASE and mv.tags["base.version"] == imported["version"]
    assert mv.tags["base.files_digest"] == imported["files_digest"]
    out = CliRunner().invoke(app, ["lineage", "model", MODEL, "--workspace", str(continued["home"] / "ws")])
    assert out.exit_code == 0, out.output
    assert f"base {BASE} version {imported['version']}" in out.output
    shas = {f["path"]: f["sha256"] for f in imported["files"]}
    assert f"{shas['model.safetensors']}  model.safetensors" in out.output


def test_the_continued_model_exports_to_hf_and_loads_in_transformers(continued, tmp_path):
    out = CliRunner().invoke(
        app, ["export", MODEL, "--out", str(tmp_path / "hf"), "--workspace", str(continued["home"] / "ws")]
    )
    assert out.exit_code == 0, out.output
    card = (tmp_path / "hf" / "README.md").read_text()
    assert f"base_model: {BASE}" in card and continued["result"]["dataset_id"] in card
    assert "language:\n- en\n" in card  # the kept documents' languages, from the dataset's ledger
    assert (tmp_path / "hf" / "LICENSE").read_text() == "Test licence for a random base.\n"
    model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf", local_files_only=True)
    assert model.config.num_key_value_heads == 2 and not model.config.tie_word_embeddings


def test_forge_train_continues_from_a_checkpoint_folder_and_checks_its_tokenizer(continued, tmp_path):
    """forge train (torch, lightning and numpy only) takes the base as a folder."""
    home, r = continued["home"], continued["result"]
    tokens = Path(r["dataset"]) / "tokens"
    args = ["train", "--tokens", str(tokens), "--out", str(tmp_path / "run"), "--max-steps", "4", "--batch-size", "2"]
    done = forge(*args, "--block-size", "64", "--eval-every", "2", "--base", str(home / "base"), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["steps"] == 4 and result["final"]["val_bpb"] < result["initial"]["val_bpb"] + 0.05
    bundle = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert bundle["model"]["n_kv_head"] == 2 and bundle["forge"]["base"] == str((home / "base").resolve())

    other = tmp_path / "other-base"
    build_base(other)  # same shape, but a tokenizer of its own: its digest differs only if its text does
    (other / "tokenizer.json").write_text(
        (home / "base" / "tokenizer.json").read_text().replace('"<|pad|>"', '"<|padding|>"')
    )
    done = forge(*args[:4], str(tmp_path / "run2"), "--max-steps", "1", "--base", str(other), cwd=tmp_path)
    assert done.returncode == 2 and "is not the one the tokens were made with" in done.stderr


def test_lineage_of_the_base_itself_lists_its_files(continued):
    imported = continued["imported"]
    out = CliRunner().invoke(app, ["lineage", "model", f"{BASE}@base", "--workspace", str(continued["home"] / "ws")])
    assert out.exit_code == 0, out.output
    assert "imported base (LlamaForCausalLM)" in out.output and imported["files_digest"] in out.output
    for f in imported["files"]:
        assert f"{f['sha256']}  {f['path']}" in out.output

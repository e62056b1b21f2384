"""Fine-tuning on conversations, end to end: a small random Llama base with a ChatML template
(built with transformers, nothing downloaded), `forge finetune --lora` on a folder of chat JSONL,
then `forge finetune` (full) of that result on a second folder; then what the records, the
exports and transformers say about them."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import torch
import yaml
from conftest import SAMPLES
from test_cli import forge

from forge_core.chat.conversations import MalformedConversation, from_text, messages_of, to_text
from forge_core.io.workspace import Workspace
from forge_core.lineage.tracking import use_workspace_tracking

transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
BASE, TUNED = "tiny-chat-base", "tiny-assistant"
ANSWERS = [
    "Full-time employees get 25 days of paid leave per calendar year.",
    "The PX-200 pressure transmitter is rated up to 400 bar.",
    "Expense claims are filed within 30 days, with receipts attached.",
    "Laptops must use full-disk encryption and a screen lock after 5 minutes.",
]
QUESTIONS = [
    "How many days of leave do I get?",
    "What pressure does the PX-200 take?",
    "When do I file an expense claim?",
    "What are the rules for laptops?",
]


def build_chat_base(folder: Path) -> None:
    """A 2-layer Llama whose tokenizer has ChatML's two special tokens, and the template in its
    tokenizer_config.json, as Qwen2's checkpoints ship it."""
    from forge_core.tokenize import TokenizeConfig, train_tokenizer

    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted((SAMPLES / "corpus").rglob("*.md"))]
    tokenizer = train_tokenizer(texts + ANSWERS + QUESTIONS, TokenizeConfig(vocab_size=510))
    tokenizer.add_special_tokens(["<|im_start|>", "<|im_end|>"])
    torch.manual_seed(5)
    config = transformers.LlamaConfig(
        vocab_size=tokenizer.get_vocab_size(),
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
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "chat_template": CHATML,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    (folder / "LICENSE").write_text("Test licence for a random base.\n")


def conversations(offset: int, n: int) -> list[str]:
    lines = []
    for i in range(offset, offset + n):
        k = i % len(ANSWERS)
        turns = [
            {"role": "user", "content": f"{QUESTIONS[k]} (ticket {i})"},
            {"role": "assistant", "content": ANSWERS[k]},
        ]
        if i % 3 == 0:
            turns.insert(0, {"role": "system", "content": "You answer from Northwind's policies."})
        lines.append(json.dumps({"messages": turns}))
    return lines


@pytest.fixture(scope="module")
def tuned(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("finetune")
    build_chat_base(home / "base")
    done = forge("base", "import", "base", "--name", BASE, "--workspace", "ws", "--json", cwd=home)
    assert done.returncode == 0, done.stderr[-4000:]

    first = home / "support"
    first.mkdir()
    lines = conversations(0, 24)
    lines += [
        lines[1],  # an exact duplicate
        "{not json",
        json.dumps({"messages": [{"role": "user", "content": "Anyone there?"}]}),  # no assistant turn
        json.dumps({"messages": [{"role": "user", "content": "Call me back"}, {"role": "bot", "content": "ok"}]}),
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "My e-mail is jane.doe@example.com, how many leave days do I get?"},
                    {"role": "assistant", "content": ANSWERS[0]},
                ]
            }
        ),
    ]
    (first / "chats.jsonl").write_text("\n".join(lines) + "\n")
    pairs = [{"prompt": QUESTIONS[1] + " Please answer briefly.", "completion": ANSWERS[1]}]
    (first / "pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs))
    second = home / "more"
    second.mkdir()
    (second / "chats.jsonl").write_text("\n".join(conversations(100, 12)) + "\n")

    config = {
        "finetune": {
            "epochs": 8,
            "batch_size": 4,
            "block_size": 128,
            "learning_rate": 1e-2,
            "validation_fraction": 0.2,
        },
        "registry": {"model_name": TUNED},
        "dask": {"n_workers": 2},
    }
    (home / "tune.yaml").write_text(yaml.safe_dump(config))
    # Every weight moves in the full run: at the adapters' 1e-2 its first steps overshoot, and 24
    # steps then left the held-out loss within 0.3 of where it began on some machines' splits
    # (the split hashes doc_ids, which hold this run's temporary path). 3e-3 over 16 epochs lowered
    # it by 2.6 or more on every split tried.
    config["finetune"] |= {"learning_rate": 3e-3, "epochs": 16}
    (home / "tune-full.yaml").write_text(yaml.safe_dump(config))
    args = ["--workspace", "ws", "--json"]
    done = forge("finetune", f"{BASE}@base", "support", "--lora", *args, "--config", "tune.yaml", cwd=home)
    assert done.returncode == 0, done.stderr[-4000:]
    lora = json.loads(done.stdout.strip().splitlines()[-1])
    done = forge("finetune", f"{TUNED}:{lora['model_version']}", "more", *args, "--config", "tune-full.yaml", cwd=home)
    assert done.returncode == 0, done.stderr[-4000:]
    full = json.loads(done.stdout.strip().splitlines()[-1])
    use_workspace_tracking(Workspace(str(home / "ws")))
    return {"home": home, "lora": lora, "full": full}


def ledger(result: dict) -> pl.DataFrame:
    return pl.read_parquet(result["ledger"])


def test_conversations_are_curated_as_documents_with_their_own_reasons(tuned):
    r = tuned["lora"]
    manifest = json.loads((Path(r["dataset"]) / "manifest.json").read_text())
    assert manifest["kind"] == "chat"
    rows = ledger(r)
    bad = {
        row["source_uri"].rsplit("#", 1)[1]: row for row in rows.filter(pl.col("status") == "quarantined").to_dicts()
    }
    assert set(bad) == {"row=26", "row=27", "row=28"}
    assert bad["row=26"]["reason"] == "invalid_json_line" and bad["row=26"]["detail"].startswith("line 26:")
    assert bad["row=27"]["reason"] == "malformed_conversation" and "no assistant message" in bad["row=27"]["detail"]
    assert "role 'bot'" in bad["row=28"]["detail"]
    duplicate = rows.filter(pl.col("source_uri").str.ends_with("chats.jsonl#row=25")).to_dicts()[0]
    assert duplicate["reason"] == "exact_duplicate"
    assert rows.height == 24 + 5 + 1 and rows.filter(pl.col("status") == "kept").height == 24 + 1 + 1
    # PII is redacted inside the turns, and the conversation still reads as turns.
    shards = pl.concat(pl.read_parquet(p) for p in sorted((Path(r["dataset"]) / "shards").glob("*.parquet")))
    text = "\n".join(shards["text"])
    assert "jane.doe@example.com" not in text and "<EMAIL>" in text
    redacted = next(t for t in shards["text"] if "<EMAIL>" in t)
    assert from_text(redacted)[0]["content"].startswith("My e-mail is <EMAIL>")


def test_fine_tuning_lowers_the_held_out_loss_of_assistant_turns(tuned):
    for key in ("lora", "full"):
        r = tuned[key]
        print(f"\n{key}: held-out loss {r['heldout_loss_before']:.4f} -> {r['heldout_loss_after']:.4f}")
        assert r["val_conversations"] >= 1
        assert r["heldout_loss_after"] < r["heldout_loss_before"] - 0.5
    assert tuned["lora"]["method"] == "lora" and tuned["full"]["method"] == "full"
    assert tuned["lora"]["trainable_parameters"] < tuned["full"]["trainable_parameters"] / 5
    assert tuned["lora"]["template"] == "tokenizer_config.json chat_template"


def test_the_tuned_versions_name_their_parent_and_chat_dataset(tuned):
    from mlflow import MlflowClient

    lora, full = tuned["lora"], tuned["full"]
    mv = MlflowClient().get_model_version(TUNED, lora["model_version"])
    assert mv.tags["parent.name"] == BASE and mv.tags["dataset_id"] == lora["dataset_id"]
    assert mv.tags["forge.kind"] == "finetune" and mv.tags["finetune.method"] == "lora"
    mv = MlflowClient().get_model_version(TUNED, full["model_version"])
    assert (mv.tags["parent.name"], mv.tags["parent.version"]) == (TUNED, lora["model_version"])
    assert mv.tags["parent.dataset_id"] == lora["dataset_id"]
    home = tuned["home"]
    done = forge("lineage", "model", f"{TUNED}:{full['model_version']}", "--workspace", "ws", "--json", cwd=home)
    answer = json.loads(done.stdout[done.stdout.index("{") :])
    assert answer["parent"]["version"] == lora["model_version"] and answer["dataset"]["kind"] == "chat"
    assert "fine-tuned (full) from" in done.stdout


def test_a_conversation_reaches_the_model_tuned_on_it_and_the_models_tuned_from_that(tuned):
    lora, full = tuned["lora"], tuned["full"]
    doc = ledger(lora).filter(pl.col("status") == "kept")["doc_id"][0]
    done = forge("lineage", "doc", doc, "--workspace", "ws", "--json", cwd=tuned["home"])
    answer = json.loads(done.stdout[done.stdout.index("{") :])
    reached = {(v["version"], v["via"]) for v in answer["model_versions"]}
    assert reached == {(lora["model_version"], None), (full["model_version"], f"{TUNED}:{lora['model_version']}")}


def test_the_hf_export_carries_the_template_and_stops_at_the_end_of_turn_in_transformers(tuned, tmp_path):
    from forge_core.chat.template import render
    from forge_core.interop.bases import load_version

    home, version = tuned["home"], tuned["lora"]["model_version"]
    done = forge("export", f"{TUNED}:{version}", "--out", str(tmp_path / "hf"), "--workspace", "ws", cwd=home)
    assert done.returncode == 0, done.stderr[-3000:]
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    end = hf_tokenizer.convert_tokens_to_ids("<|im_end|>")
    generation = json.loads((tmp_path / "hf" / "generation_config.json").read_text())
    assert generation["eos_token_id"][0] == end
    messages = [{"role": "user", "content": QUESTIONS[0]}]
    prompt = hf_tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    _, loaded, _, _ = load_version(f"{TUNED}:{version}")
    from forge_core.chat.spec import spec_of_loaded

    spec = spec_of_loaded(loaded)
    assert prompt == render(spec.template, messages, spec.specials, add_generation_prompt=True)
    ids = hf_tokenizer(prompt, add_special_tokens=False)["input_ids"]
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf")
    theirs = hf.generate(torch.tensor([ids]), max_new_tokens=40, do_sample=False)[0, len(ids) :].tolist()
    ours = loaded.model.generate_batch([ids], 40, 0.0, stop_ids=set(spec.stop_ids))[0][len(ids) :]
    assert theirs == ours
    if end in ours:  # a model that ends its turn stops there, in both
        assert ours.index(end) == len(ours) - 1
    # Whether this tiny model learned to end its turn within 40 tokens depends on the machine's float
    # arithmetic, so the stop itself is checked on a model made to end it: the end-of-turn row of
    # both heads is set to a multiple of the row greedy decoding picks at step 5, scaled to win there
    # (or at the model's own last step, when it already ended its turn sooner).
    step = min(5, len(ours) - 1)
    with torch.no_grad():
        logits = hf(torch.tensor([ids + ours[:step]])).logits[0, -1]
        chosen = ours[step]
        scale = 2.0 if logits[chosen] > 0 else 0.5
        for head in (hf.lm_head, loaded.model.head):
            head.weight[end] = head.weight[chosen] * scale
    theirs = hf.generate(torch.tensor([ids]), max_new_tokens=40, do_sample=False)[0, len(ids) :].tolist()
    ours = loaded.model.generate_batch([ids], 40, 0.0, stop_ids=set(spec.stop_ids))[0][len(ids) :]
    assert theirs == ours and len(ours) <= step + 1 and ours[-1] == end, hf_tokenizer.decode(ours)


def test_the_lora_adapter_exports_as_a_peft_adapter_that_loads_on_the_parents_hf_export(tuned, tmp_path):
    from forge_core.interop.bases import load_version

    home, version = tuned["home"], tuned["lora"]["model_version"]
    for ref, fmt, out in ((f"{BASE}@base", "hf", "parent"), (f"{TUNED}:{version}", "peft", "adapter")):
        done = forge("export", ref, "--format", fmt, "--out", str(tmp_path / out), "--workspace", "ws", cwd=home)
        assert done.returncode == 0, done.stderr[-3000:]
    parent = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "parent")
    adapted = peft.PeftModel.from_pretrained(parent, tmp_path / "adapter").eval()
    _, loaded, _, _ = load_version(f"{TUNED}:{version}")
    x = torch.randint(0, 500, (2, 24))
    with torch.no_grad():
        assert torch.allclose(adapted(x).logits, loaded.model(x)[0], atol=1e-4)
    full = tuned["full"]["model_version"]
    done = forge(
        "export", f"{TUNED}:{full}", "--format", "peft", "--out", str(tmp_path / "x"), "--workspace", "ws", cwd=home
    )
    assert done.returncode == 1 and "no LoRA adapter" in done.stderr


def test_conversations_mixed_with_documents_are_refused_by_name(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "chats.jsonl").write_text("\n".join(conversations(0, 2)) + "\n")
    (tmp_path / "docs" / "memo.txt").write_text("The night shift rota changes on Monday; read the attached plan.\n")
    done = forge("curate", "docs", "--workspace", "ws", cwd=tmp_path)
    assert done.returncode == 1
    assert "2 conversations" in done.stderr and "ingest.kind" in done.stderr


def test_a_conversation_reads_back_from_its_text_and_bad_ones_say_what_is_wrong():
    messages = messages_of({"prompt": "Line one\nline two", "completion": "Yes.", "system": "Be brief."})
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert from_text(to_text(messages)) == messages
    reply = {"role": "assistant", "content": "c"}
    cases = {
        "a turn marker": [{"role": "user", "content": "x\n<|assistant|>\ny"}, reply],
        "may only come first": [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}, reply],
        "content is empty": [{"role": "user", "content": " "}, reply],
        "only text content parts": [{"role": "user", "content": [{"type": "image_url"}]}, reply],
    }
    for expected, obj in cases.items():
        with pytest.raises(MalformedConversation, match=expected):
            messages_of({"messages": obj})


def test_a_conversation_longer_than_a_row_is_named():
    from forge_core.chat.dataset import Conversation, ConversationError, encode_all
    from forge_core.chat.spec import chat_spec
    from forge_core.tokenize import TokenizeConfig, train_tokenizer

    tokenizer = train_tokenizer(ANSWERS * 5, TokenizeConfig(vocab_size=300))
    spec = chat_spec(tokenizer, None, None)
    long = Conversation(
        "00ff",
        "file:///c.jsonl#row=7",
        [{"role": "user", "content": "Tell me. " * 40}, {"role": "assistant", "content": "No."}],
    )
    with pytest.raises(ConversationError, match=r"c.jsonl#row=7 \(doc_id 00ff\) has \d+ tokens, more than a row of 64"):
        encode_all(tokenizer, spec, [long], 64)

"""Chat templates rendered as transformers renders them, and the assistant-token masks of the
fine-tuning loss, token by token."""

from __future__ import annotations

from pathlib import Path

import pytest

from forge_core.chat.masks import EmptyMask, encode
from forge_core.chat.template import DEFAULT_TEMPLATE, TemplateError, render
from forge_core.tokenize import EOT

transformers = pytest.importorskip("transformers")

CHATML = (  # Qwen2's layout
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
LLAMA3 = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim "
    "+ '<|eot_id|>' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
MISTRAL = (  # alternation enforced with raise_exception, as Mistral's template does
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% else %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}"
)
CHATML_TRACKED = CHATML.replace(
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}",
    "{% if message['role'] == 'assistant' %}{{ '<|im_start|>assistant\\n' }}{% generation %}"
    "{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\\n' }}"
    "{% else %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endif %}",
)
CONVERSATION = [
    {"role": "system", "content": "You answer questions about Acme's pumps."},
    {"role": "user", "content": "What pressure does the PX-250 take?"},
    {"role": "assistant", "content": "Up to 16 bar, continuously."},
    {"role": "user", "content": "And the VB-30?"},
    {"role": "assistant", "content": "The VB-30 is rated for 10 bar; see the datasheet, section 3."},
]
SPECIALS = {"bos_token": "<s>", "eos_token": "<|endoftext|>"}


@pytest.fixture(scope="module")
def hf_tokenizer(tmp_path_factory):
    from forge_core.tokenize import TokenizeConfig, train_tokenizer

    text = (Path(__file__).parents[1] / "data_samples" / "README.md").read_text(encoding="utf-8")
    folder = tmp_path_factory.mktemp("tok")
    tokenizer = train_tokenizer([text], TokenizeConfig(vocab_size=500))
    tokenizer.save(str(folder / "tokenizer.json"))
    fast = transformers.PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), **SPECIALS)
    return tokenizer, fast


@pytest.mark.parametrize(
    "template", [CHATML, LLAMA3, DEFAULT_TEMPLATE, CHATML_TRACKED], ids=["chatml", "llama3", "forge", "tracked"]
)
@pytest.mark.parametrize("prompt", [False, True])
def test_rendering_equals_transformers_apply_chat_template(hf_tokenizer, template, prompt):
    _, fast = hf_tokenizer
    messages = CONVERSATION[:-1] if prompt else CONVERSATION
    theirs = fast.apply_chat_template(messages, chat_template=template, tokenize=False, add_generation_prompt=prompt)
    assert render(template, messages, SPECIALS, add_generation_prompt=prompt) == theirs


def test_mistral_template_errors_are_raised_as_template_errors(hf_tokenizer):
    _, fast = hf_tokenizer
    alternating = CONVERSATION[1:]
    assert render(MISTRAL, alternating, SPECIALS) == fast.apply_chat_template(
        alternating, chat_template=MISTRAL, tokenize=False
    )
    with pytest.raises(TemplateError, match="must alternate"):
        render(MISTRAL, CONVERSATION, SPECIALS)  # a system turn first


def test_masks_equal_transformers_generation_tracking_token_by_token(hf_tokenizer):
    """transformers marks assistant tokens where a template has {% generation %} tags; Forge finds
    them for any template. On the same template the two masks agree token for token."""
    tokenizer, fast = hf_tokenizer
    ours = encode(tokenizer, CHATML_TRACKED, CONVERSATION, SPECIALS)
    theirs = fast.apply_chat_template(
        CONVERSATION, chat_template=CHATML_TRACKED, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    assert ours.ids == theirs["input_ids"]
    assert ours.mask == [bool(m) for m in theirs["assistant_masks"]]


def test_the_mask_covers_each_assistant_turn_and_its_end_of_turn_and_nothing_else(hf_tokenizer):
    tokenizer, _ = hf_tokenizer
    enc = encode(tokenizer, DEFAULT_TEMPLATE, CONVERSATION, SPECIALS)
    masked = tokenizer.decode([t for t, m in zip(enc.ids, enc.mask, strict=True) if m], skip_special_tokens=False)
    unmasked = tokenizer.decode([t for t, m in zip(enc.ids, enc.mask, strict=True) if not m], skip_special_tokens=False)
    answers = [m["content"] for m in CONVERSATION if m["role"] == "assistant"]
    assert masked == "".join(a + "<|endoftext|>" for a in answers)
    assert not any(a in unmasked for a in answers)
    assert "What pressure" in unmasked and "<|assistant|>" in unmasked  # prompts and role headers: no loss


def test_a_conversation_without_an_assistant_turn_is_an_error(hf_tokenizer):
    tokenizer, _ = hf_tokenizer
    with pytest.raises(EmptyMask):
        encode(tokenizer, DEFAULT_TEMPLATE, CONVERSATION[:2], SPECIALS)


def test_packed_conversations_give_the_loss_of_each_conversation_alone(hf_tokenizer):
    """Assistant-only loss over conversations packed into rows equals the same loss over each
    conversation alone (fp32, within 1e-5): no attention crosses a conversation."""
    import torch

    from forge_core.chat.packing import pack, targets_of
    from forge_core.model.architecture import GPTConfig
    from forge_core.model.gpt import GPT

    tokenizer, _ = hf_tokenizer
    conversations = [CONVERSATION, CONVERSATION[1:3], CONVERSATION[:3], CONVERSATION[3:] + CONVERSATION[1:3]]
    encoded = [encode(tokenizer, DEFAULT_TEMPLATE, c, SPECIALS) for c in conversations]
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=512, block_size=256, n_layer=2, n_head=4, n_embd=64)).eval()
    packed = pack(encoded, block_size=256)
    assert len(packed.conversations) < len(encoded)  # some rows do hold several conversations
    logits, _ = model(packed.tokens, positions=packed.positions, segments=packed.segments)
    nats = torch.nn.functional.cross_entropy(
        logits.view(-1, 512), packed.targets.view(-1), ignore_index=-1, reduction="sum"
    )
    alone = 0.0
    for enc in encoded:
        out, _ = model(torch.tensor([enc.ids]))
        alone += torch.nn.functional.cross_entropy(
            out[0], torch.tensor(targets_of(enc)), ignore_index=-1, reduction="sum"
        ).item()
    counted = int((packed.targets >= 0).sum())
    assert counted == sum(sum(e.mask[1:]) for e in encoded)
    assert abs(nats.item() / counted - alone / counted) < 1e-5


def test_a_conversation_longer_than_a_row_is_refused_by_index(hf_tokenizer):
    from forge_core.chat.packing import pack

    tokenizer, _ = hf_tokenizer
    enc = encode(tokenizer, DEFAULT_TEMPLATE, CONVERSATION, SPECIALS)
    with pytest.raises(ValueError, match="conversation 0 has"):
        pack([enc], block_size=8)


@pytest.mark.parametrize("template, end", [(CHATML, "<|im_end|>"), (LLAMA3, "<|eot_id|>"), (DEFAULT_TEMPLATE, EOT)])
def test_generation_stops_at_the_token_that_ends_the_templates_assistant_turn(hf_tokenizer, tmp_path, template, end):
    import json

    from forge_core.chat.spec import chat_spec

    tokenizer, _ = hf_tokenizer
    tokenizer = type(tokenizer).from_str(tokenizer.to_str())
    tokenizer.add_special_tokens(
        ["<|im_start|>", "<|im_end|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    )
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "chat_template": template} | SPECIALS
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": 0}))
    spec = chat_spec(tokenizer, None, tmp_path)
    assert spec.end_of_turn == tokenizer.token_to_id(end)
    assert tokenizer.token_to_id(EOT) in spec.stop_ids
    assert spec == type(spec).from_dict(json.loads(json.dumps(spec.to_dict())))

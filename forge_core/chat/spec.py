"""A model's chat spec: the template its conversations are rendered with, the special tokens the
template names, and the tokens at which generation stops (the end of an assistant turn, and the
end of text).

Where each comes from, first found wins: a fine-tuned bundle's own record (config.json
`forge.chat`, written by `forge finetune`), the Hugging Face files an imported base carried
(chat_template.jinja or tokenizer_config.json, generation_config.json), else Forge's default
template over its <|endoftext|>. The end-of-turn token is read off the template itself: the last
token of a rendered assistant turn, so a template whose turns end in <|im_end|> or <|eot_id|>
stops there whatever generation_config.json lists.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from forge_core.chat.template import DEFAULT_TEMPLATE, special_tokens, template_of

EOT = "<|endoftext|>"
PROBE = [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi there"}]


@dataclass(frozen=True)
class ChatSpec:
    template: str
    origin: str  # where the template came from, for a person reading the records
    specials: dict[str, str] = field(default_factory=dict)  # bos_token, eos_token, ... as the template sees them
    stop_ids: tuple[int, ...] = ()  # generation ends at any of these (end of turn first)

    @property
    def end_of_turn(self) -> int | None:
        return self.stop_ids[0] if self.stop_ids else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"stop_ids": list(self.stop_ids)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ChatSpec:
        return cls(d["template"], d["origin"], dict(d.get("specials") or {}), tuple(d.get("stop_ids") or ()))


def _read(folder: Path | None, name: str) -> dict[str, Any] | None:
    if folder is None or not (folder / name).is_file():
        return None
    return json.loads((folder / name).read_text(encoding="utf-8"))


def _ids(value: Any) -> list[int]:
    if value is None:
        return []
    return [int(v) for v in value] if isinstance(value, list) else [int(value)]


def end_of_turn_id(tokenizer: Any, template: str, specials: dict[str, str]) -> int | None:
    """The last token of an assistant turn as the template renders it, when that token is a special
    one (added to the tokenizer as a whole): where generation must stop to end the turn."""
    from forge_core.chat.masks import assistant_spans

    text, spans = assistant_spans(template, PROBE, specials)
    start, end = spans[-1]
    ids = tokenizer.encode(text[start:end], add_special_tokens=False).ids
    if not ids:
        return None
    last = ids[-1]
    token = tokenizer.id_to_token(last)
    added = {t.content for t in tokenizer.get_added_tokens_decoder().values()}
    return last if token in added else None


def chat_spec(tokenizer: Any, bundle_config: dict[str, Any] | None, hf_folder: Path | None) -> ChatSpec:
    """The chat spec of a model from its bundle config (config.json's parsed content), its tokenizer
    (tokenizers.Tokenizer) and the folder of Hugging Face files it carries, if any."""
    forge = (bundle_config or {}).get("forge", {})
    if forge.get("chat"):
        return ChatSpec.from_dict(forge["chat"])
    tokenizer_config = _read(hf_folder, "tokenizer_config.json")
    template, origin = template_of(hf_folder, tokenizer_config)
    specials = special_tokens(tokenizer_config or {})
    if template == DEFAULT_TEMPLATE or not specials:
        specials = {"bos_token": EOT, "eos_token": EOT} | specials
    stops = [end_of_turn_id(tokenizer, template, specials)]
    generation = _read(hf_folder, "generation_config.json") or {}
    stops += _ids(generation.get("eos_token_id")) + _ids(forge.get("eos_token_id"))
    for name in ("eos_token",):
        if name in specials:
            stops.append(tokenizer.token_to_id(specials[name]))
    stops.append(tokenizer.token_to_id(EOT))
    ordered = tuple(dict.fromkeys(s for s in stops if s is not None))
    return ChatSpec(template, origin, specials, ordered)


def spec_of_loaded(loaded: Any) -> ChatSpec:
    """The chat spec of a registered version loaded through its pyfunc (export/pyfunc.py)."""
    artifacts = getattr(loaded, "artifacts", {})
    config = json.loads(Path(artifacts["config"]).read_text(encoding="utf-8")) if "config" in artifacts else None
    hf = Path(artifacts["hf"]) if artifacts.get("hf") else None
    return chat_spec(loaded.tokenizer, config, hf)

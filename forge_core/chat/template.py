"""Chat templates: the Jinja template a base model ships (tokenizer_config.json's `chat_template`
or chat_template.jinja), rendered as transformers' `apply_chat_template` renders it, or Forge's
default for models it trained from scratch.

The environment is the one transformers builds: a sandbox (templates come from model folders and
are untrusted code), `trim_blocks` and `lstrip_blocks`, loop controls, a `tojson` that does not
escape HTML, and the globals `raise_exception`, `strftime_now`, `dict` and `namespace`; the special
tokens of the tokenizer config are variables, as transformers passes them. A test renders fixture
templates both ways and compares the strings.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

# Forge's models trained from scratch know no chat markup; this template gives them one made of
# plain text their BPE already encodes, each turn closed by <|endoftext|>, the token generation
# stops at. (ChatML's layout, with Forge's end-of-text as the end of a turn.)
DEFAULT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)
SPECIAL = ("bos_token", "eos_token", "pad_token", "unk_token")


class TemplateError(ValueError):
    """A template that does not render: the message says which and why."""


@lru_cache(maxsize=16)
def compile_template(source: str) -> Any:
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(
        x: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None, sort_keys: bool = False
    ) -> str:
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    class Generation(jinja2.ext.Extension):
        """{% generation %}...{% endgeneration %}: transformers' marks around assistant text,
        rendered as their content (masks.py finds assistant text in any template, tagged or not)."""

        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

        def _body(self, caller: Any) -> str:
            return caller()

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[Generation, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    env.globals["dict"] = dict
    env.globals["namespace"] = jinja2.utils.Namespace
    try:
        return env.from_string(source)
    except jinja2.exceptions.TemplateSyntaxError as e:
        raise TemplateError(f"chat template, line {e.lineno}: {e.message}") from None


def special_tokens(tokenizer_config: dict[str, Any]) -> dict[str, str]:
    """bos_token, eos_token, ... as strings (a config may hold them as {"content": ...} objects)."""
    out = {}
    for name in SPECIAL:
        value = tokenizer_config.get(name)
        if isinstance(value, dict):
            value = value.get("content")
        if value is not None:
            out[name] = value
    return out


def template_of(folder: Path | None, tokenizer_config: dict[str, Any] | None) -> tuple[str, str]:
    """(template source, where it came from): chat_template.jinja, tokenizer_config.json's
    chat_template, or Forge's default."""
    if folder is not None and (folder / "chat_template.jinja").is_file():
        return (folder / "chat_template.jinja").read_text(encoding="utf-8"), "chat_template.jinja"
    template = (tokenizer_config or {}).get("chat_template")
    if isinstance(template, list):  # named templates: the default one
        template = next((t["template"] for t in template if t.get("name") == "default"), None)
    if isinstance(template, str) and template:
        return template, "tokenizer_config.json chat_template"
    return DEFAULT_TEMPLATE, "Forge's default template"


def render(
    source: str, messages: list[dict[str, Any]], specials: dict[str, str], add_generation_prompt: bool = False
) -> str:
    import jinja2

    try:
        return compile_template(source).render(
            messages=messages, add_generation_prompt=add_generation_prompt, **specials
        )
    except jinja2.exceptions.TemplateError as e:
        raise TemplateError(f"chat template: {e}") from None

"""Which tokens of a rendered conversation the fine-tuning loss is taken on: the assistant's.

The conversation is rendered whole and tokenized once (as the model will see it at inference),
and each assistant turn's span of characters is found by rendering the conversation up to the
turn with the generation prompt and up to the end of the turn: the difference is what the
assistant wrote, its end-of-turn markup included (the layout whitespace after it is not). A token
is in the loss when its characters lie in such a span; on templates with transformers'
{% generation %} tags this is the mask transformers computes (a test compares them). A
conversation with no such token is an error, never a silent zero loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from forge_core.chat.template import TemplateError, render


@dataclass
class Encoded:
    ids: list[int]
    mask: list[bool]  # True: an assistant token, in the loss
    text: str


class EmptyMask(ValueError):
    """A conversation none of whose tokens is the assistant's."""


def assistant_spans(
    source: str, messages: list[dict[str, Any]], specials: dict[str, str]
) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of its assistant turns."""
    text = render(source, messages, specials)
    spans = []
    for i, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        before = render(source, messages[:i], specials, add_generation_prompt=True)
        through = render(source, messages[: i + 1], specials)
        if not text.startswith(through) or not through.startswith(before):
            raise TemplateError(
                f"the chat template does not render turn {i} as a prefix of the conversation: assistant "
                "tokens cannot be located"
            )
        # The turn ends with its end-of-turn token; whitespace the template writes after it (the
        # newline between turns) is layout, not something the assistant generates.
        spans.append((len(before), len(through.rstrip())))
    return text, spans


def encode(tokenizer: Any, source: str, messages: list[dict[str, Any]], specials: dict[str, str]) -> Encoded:
    """Token ids of the rendered conversation and the assistant mask, token by token."""
    text, spans = assistant_spans(source, messages, specials)
    enc = tokenizer.encode(text, add_special_tokens=False)
    mask = [any(s <= start and end <= e for s, e in spans) and end > start for start, end in enc.offsets]
    if not any(mask):
        raise EmptyMask("no assistant token in the conversation: it would train on nothing")
    return Encoded(enc.ids, mask, text)

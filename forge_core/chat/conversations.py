"""A conversation as a document: read from a JSONL line, written as plain text that the cleaning
chain can redact and the dedup stage can compare, and read back from that text for fine-tuning.

A line holds `{"messages": [{"role": ..., "content": ...}, ...]}` (OpenAI's and Hugging Face's
layout) or a `{"prompt": ..., "completion": ...}` pair (with an optional `system`). The text form
puts each turn under a marker line of its own:

    <|user|>
    What is the notice period?
    <|assistant|>
    One month, in writing.

Marker lines are plain text, so normalization and PII redaction treat every turn alike and leave
the markers be; a content line that is itself a marker would make the text ambiguous, so such a
conversation is refused at ingest, and one whose structure cleaning broke is dropped (clean stage,
`broken_conversation`), never trained on in a shape nobody wrote.
"""

from __future__ import annotations

import re
from typing import Any

ROLES = ("system", "user", "assistant")
MARKER = re.compile(r"^<\|(system|user|assistant)\|>$")
FIELDS = ("messages", "prompt")  # a JSONL object holding one of these keys is a conversation


class MalformedConversation(ValueError):
    """What is wrong with a conversation, in words a person fixing the file can act on."""


def is_conversation(obj: Any) -> bool:
    """Whether a JSONL object has the shape of a conversation (auto-detection of a chat file)."""
    return isinstance(obj, dict) and (
        isinstance(obj.get("messages"), list) or ("prompt" in obj and "completion" in obj)
    )


def _content(value: Any, where: str) -> str:
    if isinstance(value, list):  # OpenAI's content parts: the text ones, in order
        texts = []
        for part in value:
            if not (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)):
                raise MalformedConversation(f"{where}: only text content parts can be trained on")
            texts.append(part["text"])
        value = "".join(texts)
    if not isinstance(value, str):
        raise MalformedConversation(f"{where}: content must be a string, got {type(value).__name__}")
    if not value.strip():
        raise MalformedConversation(f"{where}: content is empty")
    if any(MARKER.match(line) for line in value.splitlines()):
        raise MalformedConversation(f"{where}: a line of the content is a turn marker such as <|user|>")
    return value


def messages_of(obj: Any) -> list[dict[str, str]]:
    """The validated turns of one JSONL object: roles known, a system turn only first, contents
    non-empty text, and at least one assistant turn (else there is nothing to learn from)."""
    if not isinstance(obj, dict):
        raise MalformedConversation(f"expected an object, got {type(obj).__name__}")
    if "messages" in obj:
        raw = obj["messages"]
        if not isinstance(raw, list) or not raw:
            raise MalformedConversation("messages must be a non-empty list")
    elif "prompt" in obj and "completion" in obj:
        raw = ([{"role": "system", "content": obj["system"]}] if obj.get("system") else []) + [
            {"role": "user", "content": obj["prompt"]},
            {"role": "assistant", "content": obj["completion"]},
        ]
    else:
        raise MalformedConversation(f"neither messages nor prompt and completion among the keys {sorted(obj)}")
    messages = []
    for i, turn in enumerate(raw):
        where = f"message {i}"
        if not isinstance(turn, dict):
            raise MalformedConversation(f"{where}: expected an object with role and content")
        role = turn.get("role")
        if role not in ROLES:
            raise MalformedConversation(f"{where}: role {role!r} is not one of {', '.join(ROLES)}")
        if role == "system" and i != 0:
            raise MalformedConversation(f"{where}: a system message may only come first")
        messages.append({"role": role, "content": _content(turn.get("content"), where)})
    if not any(m["role"] == "assistant" for m in messages):
        raise MalformedConversation("no assistant message: nothing to learn from")
    return messages


def to_text(messages: list[dict[str, str]]) -> str:
    return "\n".join(f"<|{m['role']}|>\n{m['content']}" for m in messages)


def from_text(text: str) -> list[dict[str, str]]:
    """The turns of a conversation's text; MalformedConversation when it is not one any more."""
    messages: list[dict[str, Any]] = []
    for line in text.split("\n"):
        marker = MARKER.match(line)
        if marker:
            messages.append({"role": marker.group(1), "lines": []})
        elif not messages:
            raise MalformedConversation("text before the first turn marker")
        else:
            messages[-1]["lines"].append(line)
    turns = [{"role": m["role"], "content": "\n".join(m["lines"]).strip("\n")} for m in messages]
    return messages_of({"messages": turns})

"""Conversations (.jsonl of messages or prompt/completion pairs): one record per line, each a
conversation in its text form (forge_core/chat/conversations.py). A malformed line is quarantined
alone, with its line number and what is wrong with it."""

from __future__ import annotations

import json

from forge_core.chat.conversations import MalformedConversation, is_conversation, messages_of, to_text
from forge_core.readers.extracted import Record
from forge_core.readers.text import decode_text

FORMAT = "chat"


def _objects(text: str):
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line


def looks_like_chat(data: bytes) -> bool:
    """Whether the first line that parses as JSON is a conversation: how `ingest.kind: auto` tells
    a file of conversations from a file of documents."""
    for _, line in _objects(decode_text(data)):
        try:
            return is_conversation(json.loads(line))
        except json.JSONDecodeError:
            continue
    return False


def read_conversations(data: bytes) -> list[Record]:
    records: list[Record] = []
    for number, line in _objects(decode_text(data)):
        try:
            messages = messages_of(json.loads(line))
        except json.JSONDecodeError as e:
            records.append(Record(None, number, "invalid_json_line", f"line {number}: {e.msg} at column {e.colno}"))
            continue
        except MalformedConversation as e:
            records.append(Record(None, number, "malformed_conversation", f"line {number}: {e}"))
            continue
        records.append(Record(to_text(messages), number, format=FORMAT))
    return records

"""A chat dataset version as fine-tuning input: its kept conversations read back into turns, split
into training and held-out sets by a hash of doc_id, and encoded with the model's template.

The split is the same for every run over the same dataset version and does not depend on the
model: the held-out loss before and after fine-tuning is measured on the same conversations.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from forge_core.chat.conversations import from_text
from forge_core.chat.masks import EmptyMask, Encoded, encode
from forge_core.chat.spec import ChatSpec
from forge_core.io.shards import read_shard
from forge_core.io.workspace import Workspace
from forge_core.tokenize import kept_shards


@dataclass
class Conversation:
    doc_id: str
    source_uri: str
    messages: list[dict[str, str]]


def read_conversations(ws: Workspace, dataset_id: str) -> list[Conversation]:
    """Every kept conversation of a chat dataset version, in doc_id order."""
    out = []
    for path in kept_shards(ws, dataset_id):
        shard = read_shard(ws, path, columns=["doc_id", "source_uri", "text"])
        out += [Conversation(d, u, from_text(t)) for d, u, t in shard.iter_rows()]
    return sorted(out, key=lambda c: c.doc_id)


def _rank(doc_id: str) -> str:
    return hashlib.sha256(doc_id.encode()).hexdigest()


def split(conversations: list[Conversation], fraction: float) -> tuple[list[Conversation], list[Conversation]]:
    """(train, held out): the round(fraction x n) conversations of lowest doc_id hash are held out, at
    least one when fraction > 0 and there are two or more (a small set still gets a before/after)."""
    if fraction <= 0 or len(conversations) < 2:
        return list(conversations), []
    n_val = min(len(conversations) - 1, max(1, round(fraction * len(conversations))))
    ranked = sorted(conversations, key=lambda c: _rank(c.doc_id))
    held = {c.doc_id for c in ranked[:n_val]}
    return [c for c in conversations if c.doc_id not in held], [c for c in conversations if c.doc_id in held]


class ConversationError(ValueError):
    """A conversation that cannot be trained on as it is; the message names it."""


def encode_all(tokenizer: Any, spec: ChatSpec, conversations: list[Conversation], block_size: int) -> list[Encoded]:
    """Each conversation rendered with the model's template and its assistant tokens marked; one that
    no template can place, that has no assistant token or that is longer than a row is an error
    naming it (cutting it would train on a turn without its end)."""
    out = []
    for c in conversations:
        try:
            enc = encode(tokenizer, spec.template, c.messages, spec.specials)
        except (EmptyMask, ValueError) as e:
            raise ConversationError(f"{c.source_uri} (doc_id {c.doc_id}): {e}") from None
        if len(enc.ids) > block_size:
            raise ConversationError(
                f"{c.source_uri} (doc_id {c.doc_id}) has {len(enc.ids)} tokens, more than a row of {block_size} "
                "(raise finetune.block_size up to the model's context, or split the conversation)"
            )
        out.append(enc)
    return out

"""Conversations after cleaning: still the turns someone wrote, or dropped.

Normalization and redaction edit a conversation's text form like any document's; this step reads
each conversation back into its turns (forge_core/chat/conversations.py) so that one whose
structure an edit broke (a turn emptied, a marker swallowed by a redacted span) is dropped with the
reason, never fine-tuned on in a shape nobody wrote. Documents that are not conversations pass.
"""

from __future__ import annotations

import polars as pl
from pydantic import Field

from forge_core.chat.conversations import MalformedConversation, from_text
from forge_core.readers.chat import FORMAT
from forge_core.section import Section
from forge_core.steps import StepResult, drops

REASONS = {"broken_conversation": "a conversation that no longer reads as turns with an assistant reply after cleaning"}


class ConversationConfig(Section):
    """Conversations must still read as turns (roles, non-empty contents, an assistant reply) after
    normalization and PII redaction; documents that are not conversations are not judged."""

    NUMBERS = "none: a conversation is judged by its structure (its turns read back), not by a threshold."

    enabled: bool | None = Field(default=None, description="null: in every profile.")


def broken(text: str) -> str | None:
    try:
        from_text(text)
    except MalformedConversation as e:
        return str(e)
    return None


def conversation_filter(shard: pl.DataFrame, cfg: ConversationConfig) -> StepResult:
    if "format" not in shard.columns or not shard.height:
        return StepResult(shard)
    problems = [broken(t) if f == FORMAT else None for t, f in zip(shard["text"], shard["format"], strict=True)]
    bad = pl.Series("problem", problems, dtype=pl.String)
    failing = bad.is_not_null()
    if not failing.any():
        return StepResult(shard)
    dropped = shard.filter(failing).with_columns(bad.filter(failing))
    return StepResult(shard.filter(~failing), drops(dropped, "broken_conversation", pl.col("problem")))

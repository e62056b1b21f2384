"""Several conversations per training row: packed end to end, each its own segment (no attention
across them, forge_core/model/gpt.py) with positions restarting at 0, and targets only where the
next token is the assistant's (-1 elsewhere: not counted by the loss). A conversation longer than
a row is an error naming it, never truncated silently: its last assistant turn would be cut."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from forge_core.chat.masks import Encoded


@dataclass
class Packed:
    tokens: torch.Tensor  # (rows, block_size)
    targets: torch.Tensor  # next token where it is the assistant's, else -1
    positions: torch.Tensor  # restarting at 0 for each conversation
    segments: torch.Tensor  # 1, 2, ... per conversation in the row; 0 for the padding at a row's end
    conversations: list[list[int]]  # which conversations (by index) each row holds


def targets_of(enc: Encoded) -> list[int]:
    """The next token where the model should predict it (an assistant token), else -1."""
    return [enc.ids[i + 1] if enc.mask[i + 1] else -1 for i in range(len(enc.ids) - 1)] + [-1]


def pack(encoded: list[Encoded], block_size: int, pad_id: int = 0) -> Packed:
    """First-fit in the given order: a conversation goes into the current row if it fits, else
    starts the next one."""
    rows: list[list[int]] = [[]]
    lengths = [0]
    for i, enc in enumerate(encoded):
        if len(enc.ids) > block_size:
            raise ValueError(f"conversation {i} has {len(enc.ids)} tokens, more than the {block_size} of a row")
        if lengths[-1] + len(enc.ids) > block_size:
            rows.append([])
            lengths.append(0)
        rows[-1].append(i)
        lengths[-1] += len(enc.ids)
    n = len(rows)
    tokens = torch.full((n, block_size), pad_id, dtype=torch.long)
    targets = torch.full((n, block_size), -1, dtype=torch.long)
    positions = torch.zeros((n, block_size), dtype=torch.long)
    segments = torch.zeros((n, block_size), dtype=torch.long)
    for r, members in enumerate(rows):
        at = 0
        for s, i in enumerate(members, start=1):
            enc = encoded[i]
            k = len(enc.ids)
            tokens[r, at : at + k] = torch.tensor(enc.ids)
            targets[r, at : at + k] = torch.tensor(targets_of(enc))
            positions[r, at : at + k] = torch.arange(k)
            segments[r, at : at + k] = s
            at += k
    return Packed(tokens, targets, positions, segments, rows)

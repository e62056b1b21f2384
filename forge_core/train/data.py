"""Batches from the token files: fixed windows over the memory-mapped token stream of a split.

A split is the concatenation of its per-shard files, read through memory maps, so the corpus is
never loaded whole and a window may cross from one shard's file into the next. Windows do not
overlap; training shuffles them every epoch, validation reads them in order so every evaluation
sees the same tokens.
"""

from __future__ import annotations

import os
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


class TokenStream:
    """Several token files read as one flat array."""

    def __init__(self, paths: list[str], dtype: str):
        # np.memmap refuses empty files; a shard whose documents all went to the other split has one.
        self.maps = [np.memmap(p, dtype=np.dtype(dtype), mode="r") for p in paths if os.path.getsize(p) > 0]
        self.ends = np.cumsum([len(m) for m in self.maps], dtype=np.int64)

    def __len__(self) -> int:
        return int(self.ends[-1]) if len(self.ends) else 0

    def read(self, start: int, n: int) -> np.ndarray:
        """Tokens [start, start + n) of the stream, gathered across file boundaries."""
        out = np.empty(n, dtype=np.int64)
        filled = 0
        part = int(np.searchsorted(self.ends, start, side="right"))
        while filled < n:
            begin = int(self.ends[part - 1]) if part else 0
            offset = start + filled - begin
            chunk = self.maps[part][offset : offset + n - filled]
            out[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
            part += 1
        return out


class Windows(Dataset):
    """Window i: inputs are tokens [i*T, i*T + T) of the stream, targets the same shifted by one."""

    def __init__(self, stream: TokenStream, block_size: int, limit: int | None = None):
        self.stream, self.block_size = stream, block_size
        n = max(0, (len(stream) - 1) // block_size)
        self.n = min(n, limit) if limit is not None else n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = torch.from_numpy(self.stream.read(i * self.block_size, self.block_size + 1))
        return tokens[:-1], tokens[1:]


class TokenData(L.LightningDataModule):
    """The train and validation splits of a dataset version's token files."""

    def __init__(self, manifest: dict[str, Any], block_size: int, batch_size: int, seed: int, eval_batches: int):
        super().__init__()
        self.manifest, self.batch_size, self.seed, self.eval_batches = manifest, batch_size, seed, eval_batches
        self.train = TokenStream([f"{s}/train.bin" for s in manifest["shards"]], manifest["dtype"])
        self.val = TokenStream([f"{s}/val.bin" for s in manifest["shards"]], manifest["dtype"])
        if len(self.train) <= block_size:
            raise ValueError(
                f"the dataset has {len(self.train)} training tokens, fewer than one block of {block_size}: "
                "add documents or lower train.block_size"
            )
        if len(self.val) < 2:
            raise ValueError(
                f"the validation split holds {len(self.val)} tokens: raise tokenize.validation_fraction "
                f"(now {manifest.get('validation_fraction', 'as configured')}) or add documents"
            )
        self.block_size = block_size
        # A small corpus may hold less validation text than one block: evaluate on shorter windows.
        self.val_block = min(block_size, len(self.val) - 1)

    @property
    def bytes_per_token(self) -> float:
        """UTF-8 bytes per validation token: converts nats per token into bits per byte."""
        val = self.manifest["val"]
        return val["bytes"] / max(val["tokens"], 1)

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        windows = Windows(self.train, self.block_size)
        return DataLoader(windows, batch_size=self.batch_size, shuffle=True, generator=generator, drop_last=False)

    def val_dataloader(self, max_batches: int | None = None) -> DataLoader:
        limit = (max_batches or self.eval_batches) * self.batch_size
        return DataLoader(Windows(self.val, self.val_block, limit=limit), batch_size=self.batch_size)

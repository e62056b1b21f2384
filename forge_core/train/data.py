"""Batches from the token files: fixed windows over the memory-mapped token stream of a split.

A split is the concatenation of its per-shard files, read through memory maps, so the corpus is
never loaded whole and a window may cross from one shard's file into the next. Windows do not
overlap; training draws them in a seeded order that depends only on the step (so a resumed or
data-parallel run sees the same batches), validation reads them in order so every evaluation
sees the same tokens.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, Subset


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


class MicroBatches(Sampler[list[int]]):
    """Micro-batch k of the whole run on one rank, as a pure function of (seed, k, rank).

    Epoch e is a permutation of the windows seeded by seed + e; global batch i of it is the
    slice [i*B*W, (i+1)*B*W), of which rank r takes its B. The position to start from is read
    when iteration begins (micro-batches already consumed, from the restored step count), so a
    resumed run continues with exactly the batches the interrupted one would have seen, and a
    run on W devices with B each sees the same global batches as one device with B*W.
    """

    def __init__(
        self,
        n_windows: int,
        batch_size: int,
        total: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        position: Callable[[], int] = lambda: 0,
    ):
        self.n_windows, self.batch_size, self.total, self.seed = n_windows, batch_size, total, seed
        self.rank, self.world_size, self.position = rank, world_size, position
        self.per_epoch = n_windows // (batch_size * world_size)
        if self.per_epoch == 0:
            raise ValueError(
                f"the training split has {n_windows} windows, fewer than one global batch of "
                f"{batch_size} x {world_size} devices: lower train.batch_size or train.block_size, or add documents"
            )
        self._perm: tuple[int, torch.Tensor] | None = None

    def __len__(self) -> int:
        # The whole run, even when resuming: Lightning counts the restored batches as done already.
        return self.total

    def batch(self, k: int) -> list[int]:
        epoch, i = divmod(k, self.per_epoch)
        if self._perm is None or self._perm[0] != epoch:
            generator = torch.Generator().manual_seed(self.seed + epoch)
            self._perm = (epoch, torch.randperm(self.n_windows, generator=generator))
        lo = (i * self.world_size + self.rank) * self.batch_size
        return self._perm[1][lo : lo + self.batch_size].tolist()

    def __iter__(self) -> Iterator[list[int]]:
        for k in range(self.position(), self.total):
            yield self.batch(k)


def load_manifest(folder: str | Path) -> dict[str, Any]:
    """A tokens folder's manifest.json, with shard folders found beside it if the recorded paths are
    gone (the folder was copied to a GPU node, say)."""
    folder = Path(folder)
    path = folder / "manifest.json" if folder.is_dir() else folder
    if not path.exists():
        raise FileNotFoundError(f"{path}: no token manifest (a dataset version's tokens/manifest.json)")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    shards = []
    for shard in manifest["shards"]:
        if not Path(shard).is_dir():
            local = path.parent / Path(shard).name
            if not local.is_dir():
                raise FileNotFoundError(f"{path}: token shard {shard} is missing (and not at {local})")
            shard = str(local)
        shards.append(shard)
    return manifest | {"shards": shards}


class TokenData(L.LightningDataModule):
    """The train and validation splits of a dataset version's token files."""

    def __init__(
        self,
        manifest: dict[str, Any],
        block_size: int,
        batch_size: int,
        seed: int,
        eval_batches: int,
        total_batches: int = 0,
        num_workers: int = 0,
    ):
        super().__init__()
        self.manifest, self.batch_size, self.seed, self.eval_batches = manifest, batch_size, seed, eval_batches
        self.total_batches, self.num_workers = total_batches, num_workers
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
        self.consumed: Callable[[], int] = lambda: 0  # micro-batches already trained on (set by the module)

    @property
    def bytes_per_token(self) -> float:
        """UTF-8 bytes per validation token: converts nats per token into bits per byte."""
        val = self.manifest["val"]
        return val["bytes"] / max(val["tokens"], 1)

    def _loader(self, windows: Windows, **kwargs: Any) -> DataLoader:
        cuda = torch.cuda.is_available()
        return DataLoader(
            windows,
            num_workers=self.num_workers,
            pin_memory=cuda,
            persistent_workers=self.num_workers > 0,
            prefetch_factor=4 if self.num_workers else None,
            **kwargs,
        )

    def ranks(self) -> tuple[int, int]:
        """(this process's rank, how many there are), once a Trainer has set the processes up."""
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def train_dataloader(self) -> DataLoader:
        rank, world = self.ranks()
        windows = Windows(self.train, self.block_size)
        sampler = MicroBatches(
            len(windows), self.batch_size, self.total_batches, self.seed, rank, world, position=self.consumed
        )
        return self._loader(windows, batch_sampler=sampler)

    def val_dataloader(self, max_batches: int | None = None, ranks: tuple[int, int] | None = None) -> DataLoader:
        """The first (batches x batch_size x ranks) validation windows, dealt out across the ranks,
        so every evaluation scores the same windows whatever the number of devices."""
        rank, world = ranks or self.ranks()
        windows: Dataset = Windows(
            self.val, self.val_block, limit=(max_batches or self.eval_batches) * self.batch_size * world
        )
        if world > 1:
            windows = Subset(windows, range(rank, len(windows), world))
        return self._loader(windows, batch_size=self.batch_size)

"""Checkpoints every N steps, at the end, and when the run is told to stop; and finding the newest.

Lightning's ModelCheckpoint saves a step's file before that step's validation runs, so a run
resumed from it would skip that evaluation and its curve would differ from an uninterrupted one.
Here a step that is also an evaluation step is saved after the evaluation. Every file is written
under a temporary name and renamed, so a SIGKILL mid-save never leaves a half file where a
checkpoint should be; last.ckpt is a link to the newest.
"""

from __future__ import annotations

import contextlib
import errno
import os
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException

LAST = "last.ckpt"


def step_file(step: int) -> str:
    return f"step-{step:08d}.ckpt"


class StepCheckpoints(L.Callback):
    def __init__(self, folder: str | Path, every: int, eval_every: int, keep: int = 0):
        self.folder, self.every, self.eval_every, self.keep = Path(folder), every, eval_every, keep
        self.saved_step = -1

    def save(self, trainer: L.Trainer) -> None:
        step = trainer.global_step
        if step == self.saved_step:
            return
        path = self.folder / step_file(step)
        partial = path.with_suffix(".partial")
        try:
            trainer.save_checkpoint(partial, weights_only=False)  # every rank calls (FSDP gathers); rank 0 writes
        except OSError as e:
            partial.unlink(missing_ok=True)  # a failed save leaves no half file behind
            if e.errno == errno.ENOSPC or "No space left" in str(e):
                raise disk_full(partial, checkpoint_bytes(trainer)) from e
            raise
        if trainer.is_global_zero:
            os.replace(partial, path)
            link = self.folder / f"{LAST}.partial"
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
            link.symlink_to(path.name)
            os.replace(link, self.folder / LAST)
            self.prune()
        trainer.strategy.barrier("forge-checkpoint")
        self.saved_step = step

    def prune(self) -> None:
        if self.keep <= 0:
            return
        for old in sorted(self.folder.glob("step-*.ckpt"))[: -self.keep]:
            old.unlink()

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, *args: Any) -> None:
        step = trainer.global_step
        if step and step % self.every == 0 and step % self.eval_every:  # an evaluation step saves after it
            self.save(trainer)

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        step = trainer.global_step
        if trainer.state.fn == "fit" and step and step % self.every == 0:
            self.save(trainer)

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.save(trainer)

    def on_exception(self, trainer: L.Trainer, module: L.LightningModule, exception: BaseException) -> None:
        # SIGTERM (a scheduler pre-empting the job; Lightning stops after the step) or Ctrl-C.
        if isinstance(exception, SIGTERMException | KeyboardInterrupt) and trainer.global_step:
            self.save(trainer)


def checkpoint_bytes(trainer: L.Trainer) -> int:
    """About what one checkpoint takes: the weights and AdamW's two moments, all in fp32."""
    module = trainer.lightning_module
    return 3 * sum(p.numel() * 4 for p in module.parameters()) if module is not None else 0


def disk_full(path: Path, needed: int) -> OSError:
    """ENOSPC naming the checkpoint and what it needs, for the error line `forge` prints."""
    error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    error.forge_bytes_needed = needed  # type: ignore[attr-defined]
    return error


def latest_checkpoint(folder: str | Path) -> Path:
    """The newest checkpoint in folder that loads (weights only: a checkpoint holds no code)."""
    folder = Path(folder)
    for path in sorted(folder.glob("step-*.ckpt"), reverse=True):
        try:
            torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception as e:  # noqa: BLE001 - an unreadable file is skipped, with a warning
            warnings.warn(f"{path}: unreadable checkpoint skipped ({e})", stacklevel=2)
            continue
        return path
    raise FileNotFoundError(f"{folder}: no checkpoint to resume from")

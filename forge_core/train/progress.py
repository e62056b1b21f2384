"""One line for training on the terminal: steps, loss, tokens/s and the last validation bits per byte.

Lightning's own bar adds a second bar for every validation pass and the logger's version number;
in a `forge run` whose other stages show one bar each, training shows one line too, and the
numbers a person watches for (is the loss falling, how fast is it going) without the noise.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm

SHOWN = {"train_loss": ("loss", "{:.3f}"), "tokens_per_s": ("tokens/s", "{:,.0f}"), "val_bpb": ("val bpb", "{:.3f}")}


class TrainingLine(TQDMProgressBar):
    def init_validation_tqdm(self) -> Tqdm:
        return Tqdm(disable=True)

    def on_train_epoch_start(self, trainer: L.Trainer, *args: Any) -> None:
        super().on_train_epoch_start(trainer, *args)
        self.train_progress_bar.set_description("train")

    def get_metrics(self, trainer: L.Trainer, module: L.LightningModule) -> dict[str, Any]:
        metrics = super().get_metrics(trainer, module)
        return {label: fmt.format(float(metrics[key])) for key, (label, fmt) in SHOWN.items() if key in metrics}

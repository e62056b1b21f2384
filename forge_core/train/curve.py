"""The loss curve of a run, kept in its checkpoints, so a resumed run's curve is the whole run's.

Loggers write points as they come; after a crash and a resume they hold two pieces. This
callback carries every point in the checkpoint, which also makes "a resumed run reaches the same
curve" something a test can compare, and draws the curve a reviewer looks at first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L


class LossCurve(L.Callback):
    """Training loss per optimizer step and validation loss and bits per byte per evaluation."""

    def __init__(self) -> None:
        self.train: list[tuple[int, float]] = []
        self.val: list[tuple[int, float, float]] = []
        self._losses: list[float] = []

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, outputs: Any, batch: Any, i: int):
        # The mean over all ranks: a data-parallel run's curve is the global batch's, like one device's.
        self._losses.append(float(trainer.strategy.reduce(outputs["loss"].detach(), reduce_op="mean")))
        if len(self._losses) == trainer.accumulate_grad_batches:  # the optimizer has just stepped
            self.train.append((trainer.global_step, sum(self._losses) / len(self._losses)))
            self._losses = []

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        m = trainer.callback_metrics
        if "val_loss" in m and not trainer.sanity_checking:
            self.val.append((trainer.global_step, float(m["val_loss"]), float(m["val_bpb"])))

    def state_dict(self) -> dict[str, Any]:
        return {"train": [list(p) for p in self.train], "val": [list(p) for p in self.val]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.train = [(int(s), float(v)) for s, v in state["train"]]
        self.val = [(int(s), float(v), float(b)) for s, v, b in state["val"]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "train": [{"step": s, "loss": v} for s, v in self.train],
            "val": [{"step": s, "loss": v, "bpb": b} for s, v, b in self.val],
        }


def plot_curve(curve: dict[str, Any], path: str | Path, title: str = "") -> Path | None:
    """loss.png: training and validation loss against steps, bits per byte on the right axis.

    Returns None where matplotlib is not installed (a GPU node with only torch and lightning).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    if curve["train"]:
        ax.plot([p["step"] for p in curve["train"]], [p["loss"] for p in curve["train"]], lw=1, label="train loss")
    if curve["val"]:
        steps = [p["step"] for p in curve["val"]]
        ax.plot(steps, [p["loss"] for p in curve["val"]], "o-", lw=1.5, label="validation loss")
        bpb = ax.twinx()
        bpb.plot(steps, [p["bpb"] for p in curve["val"]], "s--", color="tab:green", lw=1, label="validation bits/byte")
        bpb.set_ylabel("bits per byte")
        bpb.legend(loc="upper center")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (nats per token)")
    ax.set_title(title)
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)

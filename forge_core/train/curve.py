"""The loss curve of a run, kept in its checkpoints, so a resumed run's curve is the whole run's.

Loggers write points as they come; after a crash and a resume they hold two pieces. This
callback carries every point in the checkpoint, which also makes "a resumed run reaches the same
curve" something a test can compare, and draws the curve a reviewer looks at first.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import lightning as L
import torch


class LossCurve(L.Callback):
    """Training loss per optimizer step and validation loss and bits per byte per evaluation."""

    def __init__(self, flush_every: int = 256) -> None:
        self.train: list[tuple[int, float]] = []
        self.val: list[tuple[int, float, float]] = []
        self.flush_every = flush_every
        # Losses stay on the device until a flush: reading one per step would stall a GPU every step.
        self._pending: list[tuple[int, torch.Tensor]] = []
        self._step: list[torch.Tensor] = []

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, outputs: Any, batch: Any, i: int):
        # The mean over all ranks: a data-parallel run's curve is the global batch's, like one device's.
        self._step.append(trainer.strategy.reduce(outputs["loss"].detach(), reduce_op="mean"))
        if len(self._step) == trainer.accumulate_grad_batches:  # the optimizer has just stepped
            self._pending.append((trainer.global_step, torch.stack(self._step).mean()))
            self._step = []
            if len(self._pending) >= self.flush_every:
                self.flush()

    def flush(self) -> None:
        """Bring the pending losses to the host, in one transfer."""
        if self._pending:
            values = torch.stack([v for _, v in self._pending]).float().cpu().tolist()
            self.train += [(s, v) for (s, _), v in zip(self._pending, values, strict=True)]
            self._pending = []

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.flush()

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        m = trainer.callback_metrics
        if "val_loss" in m and not trainer.sanity_checking:
            self.val.append((trainer.global_step, float(m["val_loss"]), float(m["val_bpb"])))

    def state_dict(self) -> dict[str, Any]:
        self.flush()
        return {"train": [list(p) for p in self.train], "val": [list(p) for p in self.val]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.train = [(int(s), float(v)) for s, v in state["train"]]
        self.val = [(int(s), float(v), float(b)) for s, v, b in state["val"]]

    def to_dict(self) -> dict[str, Any]:
        self.flush()
        return {
            "train": [{"step": s, "loss": v} for s, v in self.train],
            "val": [{"step": s, "loss": v, "bpb": b} for s, v, b in self.val],
        }


def plot_curve(curve: dict[str, Any], path: str | Path, title: str = "") -> Path | None:
    """loss.png: training and validation loss against steps, bits per byte on the right axis.

    Returns None where matplotlib is not installed (a GPU node with only torch and lightning).
    """
    png = curve_png(curve, title)
    if png is None:
        return None
    Path(path).write_bytes(png)
    return Path(path)


def curve_png(curve: dict[str, Any], title: str = "", dpi: int = 120) -> bytes | None:
    """The picture plot_curve writes, as PNG bytes; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=dpi)
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
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def curve_markdown(curve: dict[str, Any], title: str = "") -> str:
    """The curve for the orchestrator's UI: the picture embedded in the page (a data: URI, since
    the UI has no file to link to), then every evaluation as a table, which shows without
    matplotlib too."""
    lines = [f"# Training curve{': ' + title if title else ''}", ""]
    png = curve_png(curve, title, dpi=80)  # smaller: the page carries it as base64
    if png is not None:
        lines += [f"![training curve](data:image/png;base64,{base64.b64encode(png).decode('ascii')})", ""]
    lines += ["| step | validation loss | bits per byte |", "| ---: | ---: | ---: |"]
    lines += [f"| {p['step']:,} | {p['loss']:.4f} | {p['bpb']:.4f} |" for p in curve["val"]]
    if curve["train"]:
        last = curve["train"][-1]
        lines += ["", f"Training loss at step {last['step']:,}: {last['loss']:.4f}."]
    return "\n".join(lines)

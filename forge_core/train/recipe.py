"""How a model is trained: one dataclass, with no dependency beyond the standard library (and
the preset names of architecture.py, which has none).

It is a plain dataclass, not a pydantic model, so `forge train` runs on a GPU node that has only
torch, lightning and numpy. Inside a Forge config, pydantic validates it like its other sections
(types, Literal choices, unknown keys); on its own, __post_init__ checks the bounds and the
standalone command line is generated from the same fields (`cli_options`).
"""

from __future__ import annotations

import re
import typing
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Literal

from forge_core.model.architecture import PRESETS


def _f(default: Any, help: str, **bounds: float) -> Any:
    """A field with its help text and numeric bounds (gt, ge, lt, le), kept as metadata."""
    return field(default=default, metadata={"help": help, **bounds})


SCRATCH_LEARNING_RATE, BASE_LEARNING_RATE, SCRATCH_WARMUP_STEPS = 3e-3, 3e-4, 20


@dataclass
class TrainConfig:
    """The model and how it is trained (defaults: the tiny preset, a couple of minutes on a laptop CPU)."""

    __pydantic_config__ = {"extra": "forbid"}  # read by pydantic when nested in ForgeConfig

    preset: str = _f("tiny", "Model size: a preset from forge_core/model/architecture.py; `forge size` helps.")
    base: str | None = _f(
        None,
        "Continue pretraining a base instead of training from scratch: in forge run a registered model "
        "NAME[:VERSION|@ALIAS] (`forge base import`, or any Forge model), in forge train a model folder (a Forge "
        "bundle or a Hugging Face checkpoint). Its tokenizer replaces BPE training and its shape the preset.",
    )
    block_size: int | None = _f(None, "Context length in tokens; empty = the preset's.", ge=8)
    dropout: float = _f(0.0, "Dropout in attention and residual branches.", ge=0.0, lt=1.0)
    max_steps: int = _f(200, "Optimizer steps (the cosine schedule ends here).", gt=0)
    max_time: str | int | float | None = _f(
        None,
        "Wall-clock budget: seconds (a number), or 90s, 45m, 2h, 1d, or HH:MM:SS; training stops there and the "
        "learning-rate schedule is stretched over it. Empty = no budget.",
    )
    batch_size: int = _f(8, "Sequences per micro-batch on each device.", gt=0)
    grad_accum: int = _f(1, "Micro-batches per optimizer step.", gt=0)
    learning_rate: float | None = _f(
        None,
        "Peak AdamW learning rate; empty: 3e-3 from scratch, 3e-4 from a base (Llama 2's pretraining peak, to which "
        "Ibrahim et al. 2024, 'Simple and Scalable Strategies to Continually Pre-train LLMs', re-warm).",
        gt=0.0,
    )
    min_lr_ratio: float = _f(0.1, "Cosine decay ends at this share of the peak.", ge=0.0, le=1.0)
    warmup_steps: int | None = _f(
        None,
        "Linear warm-up steps before the cosine decay; empty: 20 from scratch, 1% of max_steps (at least 1) from a "
        "base (Gupta et al. 2023, 'Continual Pre-Training of LLMs: How to (re)warm your model?': the length "
        "matters little, a short re-warm-up suffices).",
        ge=0,
    )
    weight_decay: float = _f(0.1, "AdamW weight decay on matrices (not on norms).", ge=0.0)
    beta2: float = _f(0.95, "AdamW beta2 (0.99 suits small batches).", gt=0.0, lt=1.0)
    grad_clip: float = _f(1.0, "Clip the gradient norm to this; 0 turns clipping off.", ge=0.0)
    eval_every: int = _f(50, "Steps between validation passes.", gt=0)
    eval_batches: int = _f(10, "Validation batches per pass during training.", gt=0)
    checkpoint_every: int | None = _f(None, "Steps between checkpoints; empty = eval_every.", gt=0)
    keep_checkpoints: int = _f(3, "Step checkpoints kept (the newest); 0 keeps all.", ge=0)
    precision: Literal["auto", "bf16-mixed", "16-mixed", "32-true"] = _f(
        "auto", "auto: bf16-mixed on a CUDA GPU that supports it, else 32-true."
    )
    accelerator: Literal["auto", "cpu", "gpu"] = _f("auto", "auto: a GPU when CUDA sees one.")
    devices: int = _f(1, "Devices (GPUs, or CPU processes) per node; more than one trains data-parallel.", gt=0)
    num_nodes: int = _f(1, "Machines; launch with torchrun or srun (README: multi-node).", gt=0)
    strategy: Literal["auto", "ddp", "fsdp"] = _f(
        "auto", "auto: one device alone, DDP when the model fits each GPU, FSDP when it does not."
    )
    compile: Literal["auto", "on", "off"] = _f("auto", "torch.compile the model; auto: on CUDA only.")
    activation_checkpointing: bool = _f(False, "Recompute each block in the backward pass: less memory, ~30% slower.")
    num_workers: int | None = _f(None, "Data-loading processes per device; empty: 4 on CUDA, 0 on CPU.", ge=0)
    seed: int = _f(1337, "Seeds weights, batch order and sampling.")

    def __post_init__(self) -> None:
        check_fields(self, "train")
        if self.preset not in PRESETS:
            raise ValueError(f"train.preset: unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        if self.max_time is not None:
            self.max_time = str(self.max_time)
            parse_duration(self.max_time)
        # Defaults that depend on where training starts, resolved once so the logged config shows them.
        if self.learning_rate is None:
            self.learning_rate = BASE_LEARNING_RATE if self.base else SCRATCH_LEARNING_RATE
        if self.warmup_steps is None:
            self.warmup_steps = max(1, self.max_steps // 100) if self.base else SCRATCH_WARMUP_STEPS

    @property
    def checkpoint_interval(self) -> int:
        return self.checkpoint_every or self.eval_every

    @property
    def max_seconds(self) -> float | None:
        return parse_duration(self.max_time) if self.max_time is not None else None


@dataclass
class EvalConfig:
    """The evaluation after training: held-out loss, perplexity, bits per byte and samples."""

    __pydantic_config__ = {"extra": "forbid"}

    max_batches: int = _f(50, "Validation batches in the final evaluation.", gt=0)
    samples: int = _f(3, "Validation documents whose openings are continued.", ge=0)
    prompt_tokens: int = _f(16, "Tokens of each document used as the prompt.", gt=0)
    max_new_tokens: int = _f(48, "Tokens generated per sample.", gt=0)
    temperature: float = _f(0.8, "Sampling temperature; 0 is greedy.", ge=0.0)
    top_k: int | None = _f(50, "Sample among the k likeliest tokens; empty = all.", gt=0)

    def __post_init__(self) -> None:
        check_fields(self, "eval")


def check_fields(config: Any, section: str) -> None:
    """Literal choices and numeric bounds of a dataclass config (pydantic checks them too, when present)."""
    hints = typing.get_type_hints(type(config))
    for f in fields(config):
        value = getattr(config, f.name)
        check_choice(f"{section}.{f.name}", value, hints[f.name])
        if value is None or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        for bound, ok in (("gt", value.__gt__), ("ge", value.__ge__), ("lt", value.__lt__), ("le", value.__le__)):
            if bound in f.metadata and not ok(f.metadata[bound]):
                op = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}[bound]
                raise ValueError(f"{section}.{f.name} must be {op} {f.metadata[bound]}, got {value}")


def check_choice(name: str, value: Any, hint: Any) -> None:
    """Literal fields accept only their listed values (pydantic checks this too, when present)."""
    if typing.get_origin(hint) is Literal and value not in typing.get_args(hint):
        choices = ", ".join(map(str, typing.get_args(hint)))
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str | float) -> float:
    """Seconds in '120', '90s', '45m', '2h', '1d', '1.5h' or 'HH:MM:SS'."""
    s = str(text).strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", s):
        seconds = float(s)
    elif m := re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd])", s):
        seconds = float(m[1]) * _UNITS[m[2]]
    elif m := re.fullmatch(r"(\d+):(\d{1,2}):(\d{1,2})", s):
        seconds = int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3])
    else:
        raise ValueError(f"train.max_time: cannot read {text!r} as a duration (e.g. 600, 90s, 45m, 2h, 01:30:00)")
    if seconds <= 0:
        raise ValueError(f"train.max_time must be positive, got {text!r}")
    return seconds


def cli_options() -> list[tuple[str, dict[str, Any]]]:
    """argparse add_argument (flag, kwargs) for every field: the standalone command line is the config."""
    hints = typing.get_type_hints(TrainConfig)
    out = []
    for f in fields(TrainConfig):
        hint, kwargs = hints[f.name], {"dest": f.name, "default": None}
        default = f.default if f.default is not MISSING else None
        kwargs["help"] = f"{f.metadata['help']} [default: {default}]".replace("%", "%%")  # argparse formats help
        if typing.get_origin(hint) is Literal:
            kwargs["choices"] = list(typing.get_args(hint))
        elif hint is bool:
            out.append((f"--{f.name.replace('_', '-')}", kwargs | {"action": "store_true"}))
            out.append((f"--no-{f.name.replace('_', '-')}", kwargs | {"action": "store_false", "help": "(off)"}))
            continue
        else:
            base = next((t for t in typing.get_args(hint) if t is not type(None)), hint)
            kwargs["type"] = base
        out.append((f"--{f.name.replace('_', '-')}", kwargs))
    return out

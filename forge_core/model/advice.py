"""`forge size`: the model preset your tokens, GPUs and hours can train well, and the report.

The costs come from sizing.py; what is chosen from them, and why, is decided here: Chinchilla's
~20 tokens per parameter, one pass over the data in the time budget, DDP while the training state
fits each GPU and FSDP beyond. The text helpers write numbers the way people read them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from forge_core.model.architecture import PRESETS, GPTConfig, preset
from forge_core.model.sizing import (
    GPUS,
    GiB,
    Memory,
    flops_per_token,
    memory_per_gpu,
    param_count,
    training_hours,
)

TOKENS_PER_PARAMETER = 20  # Chinchilla (Hoffmann et al. 2022): compute-optimal at ~20 tokens per parameter
MEMORY_HEADROOM = 0.9  # plan to 90% of a GPU: the CUDA context, allocator fragmentation, NCCL buffers


@dataclass(frozen=True)
class PresetEstimate:
    """One preset against the run: does it suit the data, the time and the memory?"""

    preset: str
    parameters: int
    flops_per_token: int
    tokens_needed: int  # at TOKENS_PER_PARAMETER
    hours: float  # one pass over all the data at the assumed MFU
    strategy: str | None  # None: does not fit in memory even sharded
    memory: Memory
    fits_data: bool
    fits_time: bool

    @property
    def fits(self) -> bool:
        return self.fits_data and self.fits_time and self.strategy is not None

    def misfits(self, hours_budget: float) -> list[str]:
        """Why this preset is not the answer, in words."""
        reasons = []
        if not self.fits_data:
            reasons.append(f"needs ~{human(self.tokens_needed)} tokens at {TOKENS_PER_PARAMETER} per parameter")
        if not self.fits_time:
            reasons.append(f"one pass takes {human_hours(self.hours)} (budget {human_hours(hours_budget)})")
        if self.strategy is None:
            reasons.append(
                f"needs {self.memory.total / GiB:.0f} GiB per GPU even with fsdp "
                f"({self.memory.activations / GiB:.0f} GiB of it activations: a smaller micro-batch helps)"
            )
        return reasons


@dataclass(frozen=True)
class Recommendation:
    preset: str
    shape: GPTConfig
    parameters: int
    tokens: int  # available
    train_tokens: int  # planned: all of them, unless the time budget allows fewer
    tokens_per_parameter: float  # train_tokens / parameters
    flops_per_token: int
    flops: int  # for train_tokens
    strategy: str
    memory: Memory  # per GPU
    estimated_hours: float  # for train_tokens at the assumed MFU
    gpus: int
    gpu_type: str
    hours_budget: float
    mfu: float
    micro_batch: int
    notes: list[str]
    alternatives: list[PresetEstimate]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for row, estimate in zip(d["alternatives"], self.alternatives, strict=True):
            row["fits"] = estimate.fits
        return d


def estimate_preset(
    name: str, tokens: int, gpus: int, gpu_type: str, hours: float, mfu: float, vocab_size: int, micro_batch: int
) -> PresetEstimate:
    shape = preset(name, vocab_size)
    n, fpt = param_count(shape), flops_per_token(shape)
    usable = MEMORY_HEADROOM * GPUS[gpu_type].memory_bytes
    ddp, fsdp = (memory_per_gpu(shape, micro_batch, gpus, s) for s in ("ddp", "fsdp"))
    strategy, memory = ("ddp", ddp) if ddp.total <= usable else ("fsdp", fsdp) if fsdp.total <= usable else (None, fsdp)
    t = training_hours(fpt * tokens, gpus, gpu_type, mfu)
    return PresetEstimate(
        name, n, fpt, TOKENS_PER_PARAMETER * n, t, strategy, memory, n <= tokens / TOKENS_PER_PARAMETER, t <= hours
    )


def recommend(
    tokens: int,
    gpus: int,
    gpu_type: str,
    hours: float,
    mfu: float = 0.4,
    vocab_size: int = 32768,
    micro_batch: int = 8,  # TrainConfig.batch_size's default
) -> Recommendation:
    """The largest preset with <= tokens/20 parameters whose one pass over the tokens fits in
    `hours` at `mfu` and whose training state fits on the GPUs (ddp if it fits, else fsdp).

    When none qualifies, `notes` say what is short. Too little data: the smallest preset, with a
    warning that it will overfit. Too little time for one pass: the time, not the data, sets the
    size, so Chinchilla applies to the compute budget instead: the largest preset that can see 20
    tokens per parameter in the time, trained on as many tokens as fit (a sample of the data).
    """
    if gpu_type not in GPUS:
        raise ValueError(f"unknown gpu type {gpu_type!r}; choose one of {', '.join(GPUS)}")
    if tokens <= 0 or gpus <= 0 or hours <= 0 or vocab_size <= 0 or micro_batch <= 0:
        raise ValueError("tokens, gpus, hours, vocab size and micro-batch must all be positive")
    if not 0 < mfu <= 1:
        raise ValueError(f"mfu is a fraction of peak, between 0 and 1, not {mfu}")
    rows = [estimate_preset(p, tokens, gpus, gpu_type, hours, mfu, vocab_size, micro_batch) for p in PRESETS]
    budget_flops = hours * 3600 * gpus * GPUS[gpu_type].peak_flops * mfu
    chosen, notes = choose_preset(rows, tokens, hours, budget_flops)
    train_tokens = min(tokens, int(budget_flops / chosen.flops_per_token))
    if chosen.strategy is None:
        notes.append(
            f"{chosen.preset} does not fit in {GPUS[gpu_type].memory_bytes / GiB:.0f} GiB per GPU even with fsdp "
            f"at a micro-batch of {micro_batch}: lower train.batch_size and raise train.grad_accum."
        )
    strategy = chosen.strategy or "fsdp"
    if strategy == "ddp":
        notes.append("ddp: every GPU holds the whole model, its gradients and optimizer state.")
    else:
        notes.append(f"fsdp: weights, gradients and optimizer state are sharded over the {gpus} GPUs.")
    peak = f"{GPUS[gpu_type].peak_flops / 1e12:.0f} TFLOP/s" + (" peak" if gpu_type == "cpu" else " dense bf16 peak")
    notes.append(f"time assumes {mfu:.0%} MFU: {mfu:.0%} of {gpu_type}'s {peak} as useful model FLOPs.")
    if chosen.parameters < 100e6 and gpu_type != "cpu":
        notes.append("models under ~100M parameters rarely keep a large GPU busy: expect the time to run longer.")
    if gpu_type == "cpu":
        notes.append(
            "cpu figures are assumptions (1 TFLOP/s, 24 GiB per node); Forge trains in 32-bit on CPUs, so "
            "activations take about twice the bf16 figure shown."
        )
    shape = preset(chosen.preset, vocab_size)
    flops = chosen.flops_per_token * train_tokens
    return Recommendation(
        preset=chosen.preset,
        shape=shape,
        parameters=chosen.parameters,
        tokens=tokens,
        train_tokens=train_tokens,
        tokens_per_parameter=train_tokens / chosen.parameters,
        flops_per_token=chosen.flops_per_token,
        flops=flops,
        strategy=strategy,
        memory=chosen.memory,
        estimated_hours=training_hours(flops, gpus, gpu_type, mfu),
        gpus=gpus,
        gpu_type=gpu_type,
        hours_budget=hours,
        mfu=mfu,
        micro_batch=micro_batch,
        notes=notes,
        alternatives=rows,
    )


def choose_preset(
    rows: list[PresetEstimate], tokens: int, hours: float, budget_flops: float
) -> tuple[PresetEstimate, list[str]]:
    """The preset `recommend` describes, and notes on what limited the choice."""
    fitting = [r for r in rows if r.fits]
    if fitting:
        chosen, notes = fitting[-1], []
        bigger = rows.index(chosen) + 1
        if bigger < len(rows):
            nxt = rows[bigger]
            notes.append(f"the next size up, {nxt.preset}: {'; '.join(nxt.misfits(hours))}.")
        elif tokens / chosen.parameters > 2 * TOKENS_PER_PARAMETER:
            notes.append(
                f"the data could feed a ~{human(tokens // TOKENS_PER_PARAMETER)}-parameter model; {chosen.preset} is "
                "the largest preset, and more than 20 tokens per parameter still improve it."
            )
        return chosen, notes
    in_memory = [r for r in rows if r.strategy is not None] or rows[:1]
    smallest = in_memory[0]
    if not smallest.fits_data:
        notes = [
            f"too little data: {human(tokens)} tokens is {tokens / smallest.parameters:.1f} per parameter of "
            f"{smallest.preset}, the smallest preset, which needs ~{human(smallest.tokens_needed)} at "
            f"{TOKENS_PER_PARAMETER} per parameter. It will overfit: watch the validation loss, train for fewer "
            "steps, or gather more documents."
        ]
        if not smallest.fits_time:
            seen = int(budget_flops / smallest.flops_per_token)
            notes.append(
                f"one pass takes {human_hours(smallest.hours)}, over budget: the time covers ~{human(seen)} tokens."
            )
        return smallest, notes
    # The data suits a preset but no pass over all of it fits in the time: size for the compute.
    affordable = [r for r in in_memory if r.fits_data and r.flops_per_token * r.tokens_needed <= budget_flops]
    chosen = affordable[-1] if affordable else smallest
    seen = min(tokens, int(budget_flops / chosen.flops_per_token))
    notes = [
        f"time is the limit: one pass over all {human(tokens)} tokens takes {human_hours(chosen.hours)} on "
        f"{chosen.preset}, over the {human_hours(hours)} budget, which covers ~{human(seen)} tokens "
        f"({percent(seen / tokens)} of the data, {seen / chosen.parameters:.0f} per parameter). Train on that "
        "many, or add GPUs or hours to use all the data."
    ]
    if not affordable:
        notes.append(
            f"even {chosen.preset} gets fewer than {TOKENS_PER_PARAMETER} tokens per parameter in the time: "
            "it will be undertrained."
        )
    return chosen, notes


def human(n: float) -> str:
    """1234567 -> '1.2M'."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{suffix}"
    return f"{n:.0f}"


def human_hours(hours: float, days: bool = True) -> str:
    """0.17 -> '10 min', 4.25 -> '4.2 h', 100 -> '100 h (4.2 days)'."""
    if hours < 1:
        return f"{hours * 60:.0f} min" if hours * 60 >= 1 else "<1 min"
    text = f"{hours:.1f} h" if hours < 10 else f"{hours:,.0f} h"
    return text + (f" ({hours / 24:.1f} days)" if days and hours >= 48 else "")


def percent(fraction: float) -> str:
    """0.0033 -> '0.33%': small shares keep two significant digits."""
    return f"{100 * fraction:.1f}%" if fraction >= 0.01 else f"{100 * fraction:.2g}%"


def scientific(x: float) -> str:
    """4.1e20, not 4.1e+20."""
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def parse_tokens(text: str) -> int:
    """A token count as people write it: 2500000000, 2_500_000_000, 2.5B, 300M, 10k, 1.2T, 1e9."""
    cleaned = text.strip().replace("_", "").replace(",", "")
    scale = {"k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}.get(cleaned[-1:].lower(), 1)
    number = cleaned[:-1] if scale > 1 else cleaned
    try:
        value = Decimal(number) * scale
    except InvalidOperation:
        raise ValueError(f"cannot read {text!r} as a token count; write e.g. 2500000000, 2.5B, 300M or 10k") from None
    if not value.is_finite() or value <= 0 or value != value.to_integral_value():
        raise ValueError(f"a token count must be a positive whole number, not {text!r}")
    return int(value)


def format_report(rec: Recommendation) -> str:
    """The recommendation, its memory breakdown and notes, then every preset side by side."""
    s, m, gpu = rec.shape, rec.memory, GPUS[rec.gpu_type]
    if rec.train_tokens == rec.tokens:
        train = "(one pass over the data)"
    else:
        train = f"of {human(rec.tokens)} ({percent(rec.train_tokens / rec.tokens)}): what fits in the time"
    lines = [
        f"{human(rec.tokens)} tokens on {rec.gpus} x {rec.gpu_type} ({gpu.peak_flops / 1e12:.0f} TFLOP/s peak, "
        f"{gpu.memory_bytes / GiB:.0f} GiB), {human_hours(rec.hours_budget)} budget, {rec.mfu:.0%} MFU",
        "",
        f"preset            {rec.preset}  ({s.n_layer} layers, {s.n_head} heads, width {s.n_embd}, "
        f"context {s.block_size}, vocabulary {s.vocab_size:,})",
        f"parameters        {rec.parameters:,}  ({rec.tokens_per_parameter:.1f} tokens per parameter; Chinchilla ~20)",
        f"training tokens   {rec.train_tokens:,}  {train}",
        f"training FLOPs    {scientific(rec.flops)}  ({scientific(rec.flops_per_token)} per token)",
        f"estimated time    {human_hours(rec.estimated_hours)} at {rec.mfu:.0%} MFU",
        f"strategy          {rec.strategy}",
        f"memory per GPU    micro-batch {rec.micro_batch} x {s.block_size} tokens, bf16-mixed, AdamW",
        f"  weights         {m.weights / GiB:8.2f} GiB  fp32 master and bf16 copies",
        f"  gradients       {m.gradients / GiB:8.2f} GiB",
        f"  optimizer       {m.optimizer / GiB:8.2f} GiB",
        f"  activations     {m.activations / GiB:8.2f} GiB",
        f"  total           {m.total / GiB:8.2f} GiB  of {gpu.memory_bytes / GiB:.0f} GiB, "
        f"planned to {MEMORY_HEADROOM:.0%}",
        "",
        "notes",
        *(f"  - {note}" for note in rec.notes),
        "",
        f"every preset for {human(rec.tokens)} tokens on {rec.gpus} x {rec.gpu_type}",
        f"  {'preset':<7} {'parameters':>10} {'tokens at 20/param':>18} {'one pass':>10} {'memory/GPU':>11}  "
        f"{'strategy':<8}  verdict",
    ]
    for r in rec.alternatives:
        short = [why for why, ok in (("data", r.fits_data), ("time", r.fits_time), ("memory", r.strategy)) if not ok]
        verdict = "fits" if r.fits else "too little " + ", ".join(short)
        if r.preset == rec.preset:
            verdict = "recommended" + (
                "" if rec.train_tokens == rec.tokens else f" for {human(rec.train_tokens)} tokens"
            )
        lines.append(
            f"  {r.preset:<7} {human(r.parameters):>10} {human(r.tokens_needed):>18} "
            f"{human_hours(r.hours, days=False):>10} {r.memory.total / GiB:>7.1f} GiB  "
            f"{r.strategy or '-':<8}  {verdict}"
        )
    return "\n".join(lines)

"""How big a model your tokens, GPUs and hours can train: parameters, FLOPs, memory, time.

Plain arithmetic over the shapes in presets.py, without torch: it answers `forge size` at once and
runs on GPU nodes that lack the data stack (the trainer uses `peak_flops_for` to report MFU).
Every number here is an estimate for planning a run; each one's origin is written next to it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from forge_core.model.presets import PRESETS

GiB = 1024**3
TOKENS_PER_PARAMETER = 20  # Chinchilla (Hoffmann et al. 2022): compute-optimal at ~20 tokens per parameter
MEMORY_HEADROOM = 0.9  # plan to 90% of a GPU: the CUDA context, allocator fragmentation, NCCL buffers


@dataclass(frozen=True)
class Accelerator:
    """One kind of accelerator: its dense bf16 peak (no 2:4 sparsity) and its memory."""

    peak_flops: float  # FLOP/s
    memory_bytes: int
    note: str = ""


GPUS: dict[str, Accelerator] = {
    # nvidia-smi shows 79.6 GiB on an "80GB" H100 or A100: 80 GiB overstates by 0.5%, within headroom.
    "h100": Accelerator(989.4e12, 80 * GiB, "H100 SXM; the PCIe card peaks at 756 TFLOP/s"),
    # NVIDIA sells the H200 as "141 GB"; we take decimal bytes (131 GiB), the conservative reading:
    # nvidia-smi shows ~140 GiB, so plans here leave the H200 about 7% more room than they count.
    "h200": Accelerator(989.4e12, 141 * 10**9, "H200 SXM: the H100's compute with 141 GB of HBM3e"),
    "a100": Accelerator(312e12, 80 * GiB, "A100 80GB (SXM or PCIe: same peak)"),
    "l40s": Accelerator(362.05e12, 48 * GiB, "L40S"),
    # An assumption, not a measurement: a recent many-core server node sustaining ~1 TFLOP/s in
    # 32-bit matmuls, with 24 GiB of RAM set aside for training. `--gpus` counts nodes here.
    "cpu": Accelerator(1e12, 24 * GiB, "assumed: one CPU node, ~1 TFLOP/s, 24 GiB for training"),
}


def peak_flops_for(device_name: str) -> tuple[str, float] | None:
    """(kind, dense bf16 peak FLOP/s) for a torch.cuda.get_device_name() string; None if unknown.

    The PCIe and NVL H100s clock lower than the SXM part, and a plain L40 has half an L40S's bf16
    throughput, so names are matched for those variants rather than by family alone.
    """
    name = device_name.lower()
    if "h200" in name:  # also GH200: a Hopper GPU of the same peak, with 96 to 144 GB
        return "h200", GPUS["h200"].peak_flops
    if "h100" in name:
        if "pcie" in name:
            return "h100", 756e12
        if "nvl" in name:
            return "h100", 835e12
        return "h100", GPUS["h100"].peak_flops
    if "a100" in name:
        return "a100", GPUS["a100"].peak_flops
    if "l40s" in name:
        return "l40s", GPUS["l40s"].peak_flops
    return None


class ModelShape(Protocol):
    """What sizing needs of a model: GPTConfig has these, and so does Shape."""

    n_layer: int
    n_head: int
    n_embd: int
    block_size: int
    vocab_size: int


@dataclass(frozen=True)
class Shape:
    n_layer: int
    n_head: int
    n_embd: int
    block_size: int
    vocab_size: int

    @classmethod
    def of_preset(cls, name: str, vocab_size: int) -> Shape:
        if name not in PRESETS:
            raise ValueError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)}")
        n_layer, n_head, n_embd, block_size = PRESETS[name]
        return cls(n_layer, n_head, n_embd, block_size, vocab_size)


def ffn_hidden(n_embd: int) -> int:
    """SwiGLU width, as GPTConfig.ffn_hidden: 8/3 x n_embd rounded up to a multiple of 64."""
    return 64 * math.ceil(8 * n_embd / 3 / 64)


def param_count(shape: ModelShape) -> int:
    """GPT(cfg).num_params(): no biases, RMSNorm weights only, the tied embedding counted once."""
    d, f = shape.n_embd, ffn_hidden(shape.n_embd)
    per_layer = 2 * d + 3 * d * d + d * d + 3 * d * f  # two norms, qkv, proj, gate/up/down
    return shape.vocab_size * d + shape.n_layer * per_layer + d  # embedding, blocks, final norm


def flops_per_token(shape: ModelShape) -> int:
    """Training FLOPs per token: 6N + 12 * n_layer * n_embd * block_size.

    The PaLM / nanoGPT convention: each parameter does a multiply-add (2 FLOPs) forward and two
    backward (input and weight gradients), hence 6N. N includes the embedding table: its lookup is
    no matmul, but the tied output head multiplies by that same matrix, so its 6 x vocab x n_embd
    are real work here, counted once. The norm weights (elementwise, ~0.01% of N) are counted as
    the convention does. The second term is attention's QK^T and AV at the full context, forward
    and backward; like the convention it ignores the causal mask (flash kernels skip about half of
    that work), so MFU computed from it is comparable with published figures.
    """
    return 6 * param_count(shape) + 12 * shape.n_layer * shape.n_embd * shape.block_size


def training_flops(shape: ModelShape, tokens: int) -> int:
    return flops_per_token(shape) * tokens


def training_hours(flops: float, gpus: int, gpu_type: str, mfu: float) -> float:
    """Wall-clock hours for `flops` on `gpus` accelerators running at `mfu` of their peak."""
    return flops / (gpus * GPUS[gpu_type].peak_flops * mfu) / 3600


@dataclass(frozen=True)
class Memory:
    """Bytes one GPU needs; `total` is the sum of the rest."""

    weights: int
    gradients: int
    optimizer: int
    activations: int
    total: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", self.weights + self.gradients + self.optimizer + self.activations)


def layer_activation_bytes(shape: ModelShape) -> int:
    """Bytes one block saves for backward, per token, under bf16 autocast with flash attention.

    Counted from what autograd saves in gpt.py (the tests check it with saved-tensor hooks), with
    h = n_embd and f = ffn_hidden:
      attn_norm   fp32 input 4h, fp32 normalized input 4h                                   8h
      attention   qkv input 2h, qkv output 6h (kept whole: v is a view of it), rotated q
                  and k 4h, attention output 2h, proj input 2h (a reshaped copy)           16h
      ffn_norm    8h as above, plus its output cast to bf16 once per linear (gate, up) 4h  12h
      SwiGLU      gate, up, silu(gate) and their product, bf16                              8f
    = 36h + 8f. The residual stream is fp32 under bf16-mixed (the embedding output is fp32 and each
    residual add promotes), which is why the norms cost 4 bytes per channel. This adapts Korthikanti
    et al. (2022), 34h + 5*a*T per layer per token: flash attention keeps no T x T scores (no
    5*a*T term), and their 34h assumes 16-bit layer-norm inputs, dropout masks (Forge trains
    without dropout) and a 4h GeLU MLP. Left out: each head's logsumexp and RMSNorm's per-token
    rstd (under 0.1%). A fused CUDA RMSNorm that saves only its input would save 8h less.
    """
    h = shape.n_embd
    return 36 * h + 8 * ffn_hidden(h)


def activation_bytes(shape: ModelShape, micro_batch: int, activation_checkpointing: bool = False) -> int:
    """Activation memory for one micro-batch of `micro_batch` sequences of block_size tokens.

    Besides the blocks: the final norm (8h) and the head's bf16 input (2h), and at the loss 10
    bytes per vocabulary entry per position alive at once: the bf16 logits (2), their fp32 copy
    (4) and the fp32 log-probabilities cross-entropy saves (4). With activation checkpointing each
    block keeps only its fp32 input (4h: the residual stream is fp32) and one block at a time
    holds its full activations while it is recomputed. Gradients of activations during backward
    (about one block's worth) are left to the headroom.
    """
    h, layers = shape.n_embd, shape.n_layer
    if activation_checkpointing:
        blocks = layers * 4 * h + layer_activation_bytes(shape)
    else:
        blocks = layers * layer_activation_bytes(shape)
    per_token = blocks + 10 * h + 10 * shape.vocab_size
    return micro_batch * shape.block_size * per_token


def memory_per_gpu(
    shape: ModelShape,
    micro_batch: int,
    gpus: int = 1,
    strategy: str = "ddp",
    activation_checkpointing: bool = False,
) -> Memory:
    """Bytes per GPU for AdamW training under bf16-mixed (Lightning's autocast over fp32 weights).

    Per parameter: fp32 master weights 4, fp32 gradients 4, AdamW's two fp32 moments 8, the
    classic 16 bytes. "ddp" keeps all of it on every GPU; "fsdp" shards those three over `gpus`.
    Counted under weights as well: the bf16 copy autocast makes of every matmul weight (2 bytes;
    the tied head included), which autocast caches for the forward pass and the matmuls save for
    backward, so all of it is live on every GPU at the end of forward, even under FSDP or with
    checkpointing; and under FSDP the all-gathered fp32 weights of two units (the running one and
    the prefetched one), the largest unit being a block or the embedding. Not counted: DDP's
    gradient buckets (another fp32 gradient copy unless gradient_as_bucket_view is set), left to
    the headroom with the CUDA context and fragmentation.
    """
    if strategy not in ("ddp", "fsdp"):
        raise ValueError(f"strategy must be 'ddp' or 'fsdp', not {strategy!r}")
    n, d, f = param_count(shape), shape.n_embd, ffn_hidden(shape.n_embd)
    block_matmuls, head = 4 * d * d + 3 * d * f, shape.vocab_size * d
    matmul_params = shape.n_layer * block_matmuls + head
    working = 2 * matmul_params
    shards = gpus if strategy == "fsdp" else 1
    gathered = 2 * 4 * max(block_matmuls + 2 * d, head) if strategy == "fsdp" else 0
    return Memory(
        weights=math.ceil(4 * n / shards) + working + gathered,
        gradients=math.ceil(4 * n / shards),
        optimizer=math.ceil(8 * n / shards),
        activations=activation_bytes(shape, micro_batch, activation_checkpointing),
    )


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
    shape: Shape
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
    shape = Shape.of_preset(name, vocab_size)
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
    shape = Shape.of_preset(chosen.preset, vocab_size)
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

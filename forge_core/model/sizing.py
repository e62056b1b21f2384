"""What training a model costs: parameters, FLOPs, memory per GPU, time, and the accelerators' peaks.

Plain arithmetic over a GPTConfig (architecture.py), without torch: `forge size` (advice.py) plans
with it at once, the trainer picks DDP or FSDP with `memory_per_gpu` and reports MFU with
`peak_flops_for`, on GPU nodes that lack the data stack. Every number here is an estimate for
planning a run; each one's origin is written next to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from forge_core.model.architecture import GPTConfig

GiB = 1024**3


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


def attention_widths(cfg: GPTConfig) -> tuple[int, int]:
    """(query width, key/value width): n_head x head_dim and n_kv_head x head_dim (n_embd each in
    Forge's own presets)."""
    return cfg.n_head * cfg.head_dim, cfg.kv_heads * cfg.head_dim


def block_matmul_params(cfg: GPTConfig) -> int:
    """Weights of one block's matrices: qkv, output projection, gate/up/down."""
    d, f = cfg.n_embd, cfg.ffn_hidden
    a, kv = attention_widths(cfg)
    return d * (a + 2 * kv) + a * d + 3 * d * f


def param_count(cfg: GPTConfig) -> int:
    """GPT(cfg).num_params(): RMSNorm weights, the qkv biases where the config has them, and the
    embedding counted once when the head is tied to it (twice the matrix when untied)."""
    d = cfg.n_embd
    a, kv = attention_widths(cfg)
    per_layer = 2 * d + block_matmul_params(cfg) + (a + 2 * kv if cfg.qkv_bias else 0)  # norms, matrices, biases
    head = 0 if cfg.tie_embeddings else cfg.vocab_size * d
    return cfg.vocab_size * d + head + cfg.n_layer * per_layer + d  # embedding, head, blocks, final norm


def flops_per_token(cfg: GPTConfig) -> int:
    """Training FLOPs per token: 6N + 12 * n_layer * n_embd * block_size.

    The PaLM / nanoGPT convention: each parameter does a multiply-add (2 FLOPs) forward and two
    backward (input and weight gradients), hence 6N. N includes the embedding table: its lookup is
    no matmul, but the tied output head multiplies by that same matrix, so its 6 x vocab x n_embd
    are real work here, counted once. The norm weights (elementwise, ~0.01% of N) are counted as
    the convention does. The second term is attention's QK^T and AV at the full context, forward
    and backward; like the convention it ignores the causal mask (flash kernels skip about half of
    that work), so MFU computed from it is comparable with published figures. With an untied head
    the input embedding is a lookup, not a matmul: its matrix is left out of N (the head's is in).
    """
    lookup = 0 if cfg.tie_embeddings else cfg.vocab_size * cfg.n_embd
    queries, _ = attention_widths(cfg)
    return 6 * (param_count(cfg) - lookup) + 12 * cfg.n_layer * queries * cfg.block_size


def training_flops(cfg: GPTConfig, tokens: int) -> int:
    return flops_per_token(cfg) * tokens


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


def layer_activation_bytes(cfg: GPTConfig) -> int:
    """Bytes one block saves for backward, per token, under bf16 autocast with flash attention.

    Counted from what autograd saves in gpt.py (the tests check it with saved-tensor hooks), with
    h = n_embd and f = ffn_hidden:
      attn_norm   fp32 input 4h, fp32 normalized input 4h                                   8h
      attention   qkv input 2h, qkv output 6h (kept whole: v is a view of it), rotated q
                  and k 4h, attention output 2h, proj input 2h (a reshaped copy)           16h
      ffn_norm    8h as above, plus its output cast to bf16 once per linear (gate, up) 4h  12h
      SwiGLU      gate, up, silu(gate) and their product, bf16                              8f
    = 36h + 8f. With grouped-query attention (query width a = n_head x head_dim, key/value width
    kv) the attention line is 2h + 2(a + 2kv) + 2(a + kv) + 2a + 2a = 2h + 8a + 6kv, 16h when
    a = kv = h. The residual stream is fp32 under bf16-mixed (the embedding output is fp32 and each
    residual add promotes), which is why the norms cost 4 bytes per channel. This adapts Korthikanti
    et al. (2022), 34h + 5*a*T per layer per token: flash attention keeps no T x T scores (no
    5*a*T term), and their 34h assumes 16-bit layer-norm inputs, dropout masks (Forge trains
    without dropout) and a 4h GeLU MLP. Left out: each head's logsumexp and RMSNorm's per-token
    rstd (under 0.1%). A fused CUDA RMSNorm that saves only its input would save 8h less.
    """
    h = cfg.n_embd
    a, kv = attention_widths(cfg)
    return 22 * h + 8 * a + 6 * kv + 8 * cfg.ffn_hidden


def activation_bytes(cfg: GPTConfig, micro_batch: int, activation_checkpointing: bool = False) -> int:
    """Activation memory for one micro-batch of `micro_batch` sequences of block_size tokens.

    Besides the blocks: the final norm (8h) and the head's bf16 input (2h), and at the loss 10
    bytes per vocabulary entry per position alive at once: the bf16 logits (2), their fp32 copy
    (4) and the fp32 log-probabilities cross-entropy saves (4). With activation checkpointing each
    block keeps only its fp32 input (4h: the residual stream is fp32) and one block at a time
    holds its full activations while it is recomputed. Gradients of activations during backward
    (about one block's worth) are left to the headroom.
    """
    h, layers = cfg.n_embd, cfg.n_layer
    if activation_checkpointing:
        blocks = layers * 4 * h + layer_activation_bytes(cfg)
    else:
        blocks = layers * layer_activation_bytes(cfg)
    per_token = blocks + 10 * h + 10 * cfg.vocab_size
    return micro_batch * cfg.block_size * per_token


def memory_per_gpu(
    cfg: GPTConfig,
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
    n, d = param_count(cfg), cfg.n_embd
    block_matmuls, head = block_matmul_params(cfg), cfg.vocab_size * d
    matmul_params = cfg.n_layer * block_matmuls + head
    working = 2 * matmul_params
    shards = gpus if strategy == "fsdp" else 1
    gathered = 2 * 4 * max(block_matmuls + 2 * d, head) if strategy == "fsdp" else 0
    return Memory(
        weights=math.ceil(4 * n / shards) + working + gathered,
        gradients=math.ceil(4 * n / shards),
        optimizer=math.ceil(8 * n / shards),
        activations=activation_bytes(cfg, micro_batch, activation_checkpointing),
    )

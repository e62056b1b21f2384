"""A decoder-only transformer in one file, read top to bottom.

Llama-style blocks: pre-RMSNorm, rotary position embeddings (RoPE) on queries and keys,
PyTorch's scaled_dot_product_attention (flash kernels on CUDA), a SwiGLU feed-forward, no biases,
and the output head tied to the token embedding (a large saving at small sizes). The same file runs
the open base models Forge imports (base/hf.py): grouped-query attention (fewer key/value heads than
query heads), an untied head, Qwen2's query/key/value biases and Hugging Face's rotary layout are
GPTConfig fields, off for Forge's own presets.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from forge_core.model import sizing
from forge_core.model.architecture import GPTConfig


def rope_tables(cfg: GPTConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of each position's rotation angle, shape (block_size, head_dim / 2)."""
    freqs = 1.0 / cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2).float() / cfg.head_dim)
    angles = torch.outer(torch.arange(cfg.block_size).float(), freqs)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, interleaved: bool = True) -> torch.Tensor:
    """Rotate each pair of a head's channels by its position's angle. x: (B, H, T, D); cos and sin:
    (T, D/2), or (B, 1, T, D/2) when each sequence has positions of its own. The pairs are (even,
    odd) channels when interleaved, else channel i with channel i + D/2 (Hugging Face)."""
    x = x.float() if x.dtype != torch.float32 else x
    if interleaved:
        x1, x2 = x[..., 0::2], x[..., 1::2]
        return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


@dataclass
class KVCache:
    """The keys and values every layer has computed, so that each new token costs one position of
    work instead of the whole sequence again (incremental decoding). Preallocated for `capacity`
    positions; `segments` says which sequence each cached position belongs to (0: left padding of a
    shorter prompt in a batch), so that a token attends only to its own."""

    k: list[torch.Tensor]  # per layer: (B, n_kv_head, capacity, head_dim)
    v: list[torch.Tensor]
    segments: torch.Tensor  # (B, capacity)
    length: int = 0
    capacity: int = field(init=False)

    def __post_init__(self) -> None:
        self.capacity = self.segments.shape[1]


class Attention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head, self.n_kv_head, self.head_dim = cfg.n_head, cfg.kv_heads, cfg.head_dim
        self.dropout, self.interleaved = cfg.dropout, cfg.rope_interleaved
        # One matrix for queries, keys and values: n_head query heads, then n_kv_head key and value heads.
        self.qkv = nn.Linear(cfg.n_embd, (cfg.n_head + 2 * cfg.kv_heads) * cfg.head_dim, bias=cfg.qkv_bias)
        self.proj = nn.Linear(cfg.n_head * cfg.head_dim, cfg.n_embd, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor | None = None,
        cache: tuple[KVCache, int] | None = None,
    ) -> torch.Tensor:
        """mask: (B, 1, T, S) booleans, True where a query may attend a key; None is plain causal
        attention over this x (the training path, flash kernels on CUDA). cache: (KVCache, layer):
        this x's keys and values are written after the cached ones and the queries attend to all."""
        B, T, _ = x.shape
        H, KV, D = self.n_head, self.n_kv_head, self.head_dim
        q, k, v = self.qkv(x).split((H * D, KV * D, KV * D), dim=-1)
        q, k, v = (t.view(B, T, -1, D).transpose(1, 2) for t in (q, k, v))
        q = apply_rope(q, cos, sin, self.interleaved).type_as(v)
        k = apply_rope(k, cos, sin, self.interleaved).type_as(v)
        if cache is not None:
            kv, layer = cache
            start = kv.length
            kv.k[layer][:, :, start : start + T] = k
            kv.v[layer][:, :, start : start + T] = v
            k, v = kv.k[layer][:, :, : start + T], kv.v[layer][:, :, : start + T]
        y = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            is_causal=mask is None and cache is None,
            dropout_p=self.dropout if self.training else 0.0,
            enable_gqa=KV != H,
        )
        return self.proj(y.transpose(1, 2).reshape(B, T, H * D))


class SwiGLU(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.gate = nn.Linear(cfg.n_embd, cfg.ffn_hidden, bias=False)
        self.up = nn.Linear(cfg.n_embd, cfg.ffn_hidden, bias=False)
        self.down = nn.Linear(cfg.ffn_hidden, cfg.n_embd, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.attn_norm = nn.RMSNorm(cfg.n_embd, eps=cfg.norm_eps)
        self.attn = Attention(cfg)
        self.ffn_norm = nn.RMSNorm(cfg.n_embd, eps=cfg.norm_eps)
        self.ffn = SwiGLU(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor | None = None,
        cache: tuple[KVCache, int] | None = None,
    ) -> torch.Tensor:
        x = x + self.drop(self.attn(self.attn_norm(x), cos, sin, mask, cache))
        return x + self.drop(self.ffn(self.ffn_norm(x)))


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.checkpoint_activations = False  # a training choice, not part of the shape
        self.embed = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm = nn.RMSNorm(cfg.n_embd, eps=cfg.norm_eps)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.head.weight = self.embed.weight
        cos, sin = rope_tables(cfg)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init)
        # GPT-2's scaled init: each residual branch adds variance, so its output projection
        # starts smaller the deeper the model.
        for name, p in self.named_parameters():
            if name.endswith(("attn.proj.weight", "ffn.down.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
        segments: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (B, T, vocab) and, given targets, the mean cross-entropy in nats per token (targets
        of -1 are not counted).

        positions (B, T): each token's rotary position, when sequences do not start at 0 (packed
        conversations restart at 0; a left-padded prompt starts after its padding). segments (B, T):
        a token attends only to earlier tokens of its own segment (packing several sequences in one
        row; 0 marks padding). cache: incremental decoding, the tokens continue the cached ones.
        Without any of them this is plain causal attention, the training path.
        """
        B, T = idx.shape
        start = cache.length if cache is not None else 0
        if positions is None:
            if start + T > self.cfg.block_size:
                raise ValueError(f"sequence of {start + T} tokens exceeds block_size {self.cfg.block_size}")
            cos, sin = self.rope_cos[start : start + T], self.rope_sin[start : start + T]
        else:
            if int(positions.max()) >= self.cfg.block_size:
                raise ValueError(f"position {int(positions.max())} exceeds block_size {self.cfg.block_size}")
            cos, sin = self.rope_cos[positions].unsqueeze(1), self.rope_sin[positions].unsqueeze(1)
        mask = None
        if cache is not None:
            if start + T > cache.capacity:
                raise ValueError(f"{start + T} tokens exceed the cache's {cache.capacity} positions")
            if segments is not None:
                cache.segments[:, start : start + T] = segments
            keys = cache.segments[:, : start + T]
            queries = keys[:, start:]
            if T > 1 or segments is not None or bool((keys == 0).any()):
                causal = torch.ones(T, start + T, dtype=torch.bool, device=idx.device).tril(start)
                mask = (causal & (queries[:, :, None] == keys[:, None, :])).unsqueeze(1)
        elif segments is not None:
            causal = torch.ones(T, T, dtype=torch.bool, device=idx.device).tril()
            mask = (causal & (segments[:, :, None] == segments[:, None, :])).unsqueeze(1)
        x = self.embed(idx)
        for i, block in enumerate(self.blocks):
            layer_cache = (cache, i) if cache is not None else None
            if self.checkpoint_activations and self.training and cache is None:
                # Keep only each block's input; recompute its insides in the backward pass.
                x = checkpoint(block, x, cos, sin, mask, use_reentrant=False)
            else:
                x = block(x, cos, sin, mask, layer_cache)
        if cache is not None:
            cache.length = start + T
        logits = self.head(self.norm(x))
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss

    def new_cache(self, batch: int, capacity: int | None = None) -> KVCache:
        """An empty KVCache for `batch` sequences of up to `capacity` tokens (the context length)."""
        capacity = min(capacity or self.cfg.block_size, self.cfg.block_size)
        p = self.embed.weight
        shape = (batch, self.cfg.kv_heads, capacity, self.cfg.head_dim)
        return KVCache(
            k=[torch.zeros(shape, dtype=p.dtype, device=p.device) for _ in self.blocks],
            v=[torch.zeros(shape, dtype=p.dtype, device=p.device) for _ in self.blocks],
            segments=torch.ones(batch, capacity, dtype=torch.long, device=p.device),
        )

    def num_params(self) -> int:
        """Parameters, counting the tied embedding once."""
        return sum(p.numel() for p in self.parameters())

    def flops_per_token(self) -> int:
        """Training FLOPs per token of this shape (forge_core/model/sizing.py says what is counted)."""
        return sizing.flops_per_token(self.cfg)

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        stop: int | None = None,
    ) -> torch.Tensor:
        """Sample a continuation of idx (B, T); greedy when temperature is 0. Rows stop together at
        `stop` (the end-of-text token) when every row has produced it."""
        rows = self.generate_batch(
            idx.tolist(), max_new_tokens, temperature, top_k, {stop} if stop is not None else None
        )
        width = max(map(len, rows))
        filler = stop if stop is not None else 0
        return torch.tensor([r + [filler] * (width - len(r)) for r in rows], dtype=idx.dtype, device=idx.device)

    @torch.no_grad()
    def generate_batch(
        self,
        prompts: list[list[int]],
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        stop_ids: set[int] | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
    ) -> list[list[int]]:
        """Continue several prompts at once (decode_steps says how); each returned list is its prompt
        followed by what was generated, up to and including a stop token."""
        stop_ids = stop_ids or set()
        out = [list(p) for p in prompts]
        done = [False] * len(prompts)
        steps = self.decode_steps(prompts, max_new_tokens, lambda x: sample(x, temperature, top_k, top_p, generator))
        for nxt in steps:
            for i, token in enumerate(nxt.tolist()):
                if not done[i]:
                    out[i].append(token)
                    done[i] = token in stop_ids
            if all(done):
                break
        return out

    @torch.no_grad()
    def decode_steps(
        self,
        prompts: list[list[int]],
        max_new_tokens: int,
        pick: Callable[[torch.Tensor], torch.Tensor],
    ) -> Iterator[torch.Tensor]:
        """Yield each step's new tokens (B,), one per prompt, chosen by `pick` from the last
        position's logits (B, vocab); the caller decides when a row is finished and stops iterating
        when all are, so a server can stream every token as it comes and sample each row its own way.

        A key-value cache holds what was computed. Prompts of different lengths are left-padded:
        padding is its own segment, and each prompt's positions start at 0. Past the context length
        the last block_size tokens are encoded again for each new token (a sliding window, as
        without a cache).
        """
        device = self.embed.weight.device
        width = max(len(p) for p in prompts)
        if min(len(p) for p in prompts) == 0:
            raise ValueError("every prompt needs at least one token")
        tokens = torch.zeros(len(prompts), width, dtype=torch.long, device=device)
        real = torch.zeros(len(prompts), width, dtype=torch.bool, device=device)
        for i, p in enumerate(prompts):
            tokens[i, width - len(p) :] = torch.tensor(p, device=device)
            real[i, width - len(p) :] = True
        cache, logits = self._prefill(tokens, real)
        for step in range(max_new_tokens):
            nxt = pick(logits[:, -1, :])
            yield nxt
            if step == max_new_tokens - 1:
                break
            tokens = torch.cat((tokens, nxt[:, None]), dim=1)
            real = torch.cat((real, torch.ones_like(real[:, :1])), dim=1)
            if cache.length >= cache.capacity:  # the context is full: slide, positions start again at 0
                keep = self.cfg.block_size  # the last block_size tokens, as the model saw them before the cache
                tokens, real = tokens[:, -keep:], real[:, -keep:]
                cache, logits = self._prefill(tokens, real)
                continue
            positions = (real.long().cumsum(1) - 1).clamp(min=0)[:, -1:]
            logits, _ = self(nxt[:, None], positions=positions, segments=torch.ones_like(positions), cache=cache)

    def _prefill(self, tokens: torch.Tensor, real: torch.Tensor) -> tuple[KVCache, torch.Tensor]:
        """A new cache holding `tokens` (left padding marked False in `real`), and their logits."""
        tokens, real = tokens[:, -self.cfg.block_size :], real[:, -self.cfg.block_size :]
        cache = self.new_cache(tokens.shape[0])
        positions = (real.long().cumsum(1) - 1).clamp(min=0)
        segments = real.long()
        if bool(real.all()):  # no padding: plain positions, and no mask on one-token steps
            logits, _ = self(tokens, cache=cache)
        else:
            logits, _ = self(tokens, positions=positions, segments=segments, cache=cache)
        return cache, logits


def sample(
    logits: torch.Tensor,
    temperature: float,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One token per row of logits (B, vocab): the argmax when temperature is 0, else a draw from
    the softmax at that temperature, limited to the top_k likeliest and to the smallest set whose
    probability reaches top_p."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.float() / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, [-1]]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        ordered, order = logits.sort(dim=-1, descending=True)
        before = ordered.softmax(dim=-1).cumsum(dim=-1) - ordered.softmax(dim=-1)
        ordered = ordered.masked_fill(before >= top_p, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, ordered)
    return torch.multinomial(F.softmax(logits, dim=-1), num_samples=1, generator=generator)[:, 0]

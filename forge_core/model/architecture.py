"""What a model is, without torch: its configuration and the named sizes, one table.

gpt.py builds the network from a GPTConfig; sizing.py counts its parameters, FLOPs and memory from
the same GPTConfig; config validation names the presets. None of them needs torch to read this
file, so `forge size` answers at once and a config is checked before anything heavy loads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class GPTConfig:
    """The network's shape. Every field is written to a bundle's config.json and read back by name,
    so a field added later needs a default that rebuilds the models saved before it existed."""

    vocab_size: int
    block_size: int = 256  # longest context the model sees
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    rope_theta: float = 10_000.0
    # What open base models (Llama, Mistral, Qwen2) need; the defaults are Forge's own shape.
    n_kv_head: int | None = None  # grouped-query attention: heads of keys and values (None: n_head)
    head_size: int | None = None  # channels per head (None: n_embd / n_head; Qwen and Mistral may differ)
    ffn_size: int | None = None  # SwiGLU hidden width (None: Forge's 8/3 x n_embd rule below)
    tie_embeddings: bool = True  # the output head shares the token embedding's matrix
    qkv_bias: bool = False  # biases on the query, key and value projections (Qwen2)
    norm_eps: float = 1e-5  # RMSNorm's epsilon
    # Rotary pairs: True rotates channels (0, 1), (2, 3), ... (Forge's models, Meta's original
    # Llama); False rotates (i, i + head_dim/2), Hugging Face's layout, so imported weights are used
    # as they are and export permutes only Forge's own.
    rope_interleaved: bool = True

    @property
    def kv_heads(self) -> int:
        return self.n_kv_head or self.n_head

    @property
    def head_dim(self) -> int:
        return self.head_size or self.n_embd // self.n_head

    @property
    def ffn_hidden(self) -> int:
        if self.ffn_size:
            return self.ffn_size
        # SwiGLU has three matrices instead of two; 8/3 x width keeps the parameter count of a 4x
        # MLP, rounded up to a multiple of 64 for tensor-core friendly shapes.
        return 64 * math.ceil(8 * self.n_embd / 3 / 64)

    def __post_init__(self) -> None:
        if (self.head_size is None and self.n_embd % self.n_head) or self.head_dim % 2:
            raise ValueError(f"n_embd={self.n_embd} must split into n_head={self.n_head} heads of even size")
        if self.n_head % self.kv_heads:
            raise ValueError(f"n_head={self.n_head} must be a multiple of n_kv_head={self.kv_heads}")


# Named model sizes. Parameter counts are for a 32k vocabulary, tied embeddings.
#          name: (n_layer, n_head, n_embd, block_size)      ~parameters at vocab 32k
PRESETS: dict[str, tuple[int, int, int, int]] = {
    "tiny": (2, 4, 128, 256),  # 4.6M: trains in a minute on a laptop CPU; tests and the demo
    "mini": (4, 4, 256, 512),  # 11M
    "small": (6, 6, 384, 1024),  # 23M: nanoGPT's Shakespeare size
    "125m": (12, 12, 768, 1024),  # 110M: GPT-2 small's shape
    "350m": (24, 16, 1024, 1024),  # 335M: GPT-2 medium's shape
    "760m": (24, 16, 1536, 2048),  # 730M
    "1b": (22, 16, 2048, 2048),  # 1.17B
}


def preset(name: str, vocab_size: int, **overrides) -> GPTConfig:
    """The named size's GPTConfig for a vocabulary; overrides (block_size, dropout...) win."""
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)}")
    n_layer, n_head, n_embd, block_size = PRESETS[name]
    fields = {"n_layer": n_layer, "n_head": n_head, "n_embd": n_embd, "block_size": block_size} | overrides
    return GPTConfig(vocab_size=vocab_size, **fields)

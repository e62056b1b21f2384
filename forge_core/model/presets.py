"""Named model sizes, one table. Parameter counts are for a 32k vocabulary, tied embeddings."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch loads only when a model is built, not when a config names a preset
    from forge_core.model.gpt import GPTConfig

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
    from forge_core.model.gpt import GPTConfig

    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)}")
    n_layer, n_head, n_embd, block_size = PRESETS[name]
    fields = {"n_layer": n_layer, "n_head": n_head, "n_embd": n_embd, "block_size": block_size} | overrides
    return GPTConfig(vocab_size=vocab_size, **fields)

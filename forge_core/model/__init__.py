"""The decoder-only transformer (gpt.py) and its named sizes (presets.py)."""

from forge_core.model.gpt import GPT, GPTConfig
from forge_core.model.presets import PRESETS, preset

__all__ = ["GPT", "GPTConfig", "PRESETS", "preset"]

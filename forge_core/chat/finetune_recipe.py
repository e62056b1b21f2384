"""How a registered model is fine-tuned on a chat dataset: the `finetune:` section of the config.

Torch-free, like every section ForgeConfig assembles. The defaults are the usual starting points
for supervised fine-tuning: a learning rate ten times lower than pretraining for full fine-tuning
(2e-5, as Llama 2's and Tülu's SFT recipes use) and 2e-4 for LoRA (the LoRA and QLoRA papers'
range), a few epochs over a small set, loss on assistant tokens only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from forge_core.section import Section

FULL_LEARNING_RATE, LORA_LEARNING_RATE = 2e-5, 2e-4
LORA_TARGETS = ["qkv", "proj", "gate", "up", "down"]  # every linear layer of a block (gpt.py's names)


class FinetuneConfig(Section):
    """Supervised fine-tuning on conversations: full or LoRA, loss on assistant turns only."""

    NUMBERS = (
        "learning_rate: 2e-5 full (Llama 2 and Tulu SFT recipes), 2e-4 LoRA (Hu et al. 2021; Dettmers et al. "
        "2023); lora_rank 8 and lora_alpha 16: the LoRA paper's and PEFT's common choice; epochs 3: a small set "
        "seen a few times; validation_fraction 0.1 with at least one conversation held out: a choice."
    )

    lora: bool = Field(default=False, description="Train LoRA adapters (peft) instead of every weight.")
    lora_rank: int = Field(default=8, gt=0, description="Rank of each LoRA update.")
    lora_alpha: float = Field(default=16.0, gt=0, description="LoRA scaling numerator: updates scale by alpha/rank.")
    lora_dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="Dropout on the LoRA input.")
    lora_targets: list[str] = Field(
        default=LORA_TARGETS, min_length=1, description="Linear layers that get adapters (names in a block)."
    )
    learning_rate: float | None = Field(
        default=None, gt=0.0, description="Peak AdamW learning rate; empty: 2e-5 full, 2e-4 LoRA."
    )
    epochs: int = Field(default=3, gt=0, description="Passes over the training conversations.")
    max_steps: int | None = Field(default=None, gt=0, description="Optimizer steps; empty: what the epochs take.")
    batch_size: int = Field(default=8, gt=0, description="Packed rows per optimizer step.")
    block_size: int | None = Field(
        default=None, ge=8, description="Tokens per packed row; empty: the model's context, at most 1024."
    )
    weight_decay: float = Field(default=0.0, ge=0.0, description="AdamW weight decay on matrices.")
    warmup_fraction: float = Field(default=0.03, ge=0.0, lt=1.0, description="Share of steps warming up.")
    validation_fraction: float = Field(
        default=0.1, ge=0.0, lt=1.0, description="Share of conversations held out (by a hash of doc_id) for the loss."
    )
    seed: int = Field(default=1337, description="Shuffling and initialization of the adapters.")
    accelerator: Literal["auto", "cpu", "gpu"] = Field(default="auto", description="Where to train.")
    precision: Literal["auto", "32-true", "bf16-mixed", "16-mixed"] = Field(
        default="auto", description="auto: bf16-mixed on a GPU that has it, 32-bit otherwise."
    )

    def peak_learning_rate(self) -> float:
        return self.learning_rate or (LORA_LEARNING_RATE if self.lora else FULL_LEARNING_RATE)

"""The base of every config section: each component declares its own next to its code.

Unknown keys are errors (a typo such as `min_wrods` must not silently fall back to a default), and
assignments are validated too, so a section changed after loading is still a valid one.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

MiB = 1024 * 1024


class Section(BaseModel):
    """One section of a Forge config file."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    # Where a rule's thresholds come from (a paper, a recipe, a measurement, a choice and its
    # reason): `forge init` prints it under the section's title, so a user tuning a number knows
    # what it was tuned on. The labelled set is benchmarks/curation_quality (BENCHMARKS.md).
    NUMBERS: ClassVar[str | None] = None

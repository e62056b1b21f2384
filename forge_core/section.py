"""The base of every config section: each component declares its own next to its code.

Unknown keys are errors (a typo such as `min_wrods` must not silently fall back to a default), and
assignments are validated too, so a section changed after loading is still a valid one.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

MiB = 1024 * 1024


class Section(BaseModel):
    """One section of a Forge config file."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

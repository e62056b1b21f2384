"""Documentation a regulator asks for, written from Forge's records: `forge audit` and the cards.

citations.py keeps the records an audit reads (files with their sha256, MLflow runs, artifacts and
model versions) so that every figure names where it came from; facts.py gathers the figures;
energy.py holds the devices' power figures; layout.py writes the EU AI Act's layout in Markdown or
HTML; cards.py writes Hugging Face dataset and model cards from the same facts.

This module holds only the `compliance:` section: what no record can say, because only a person
knows it. A field left empty is written "to be supplied", never guessed.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import Field

from forge_core.section import Section


class ComplianceConfig(Section):
    """What only a person can say of a model (forge audit, the cards): who provides it, for what, under what licence."""

    NUMBERS: ClassVar[str] = (
        "power_watts is empty by default: the energy estimate then takes the maximum board power (TDP) "
        "the vendor's datasheet gives for the recorded GPU (forge_core/compliance/energy.py lists them), an "
        "upper bound; set it to a measured average draw per device to replace that bound, or to estimate a "
        "CPU run, which is otherwise not estimated."
    )

    provider: str | None = Field(
        default=None, description="The provider placing the model on the market (its legal name)."
    )
    contact: str | None = Field(
        default=None, description="Where rightsholders and authorities reach the provider (an address or a web form)."
    )
    intended_use: str | None = Field(
        default=None, description="The tasks the model is meant for, and the systems it may be part of."
    )
    acceptable_use: str | None = Field(
        default=None, description="The acceptable use policy, or the address where it is published."
    )
    license: str | None = Field(
        default=None,
        description="Licence of the model and the dataset cards: an id such as apache-2.0 or mit, or other.",
    )
    release_date: dt.date | None = Field(
        default=None, description="When the model is placed on the market (YYYY-MM-DD)."
    )
    power_watts: float | None = Field(
        default=None,
        gt=0,
        description="Average power of one training device in watts, for the energy estimate; empty: its board power.",
    )


# The fields of the section a person supplies, in the order the documents show them.
PERSON_FIELDS = ("provider", "contact", "intended_use", "acceptable_use", "license", "release_date")
TO_BE_SUPPLIED = "to be supplied"

"""Regularisers against catastrophic forgetting: extra loss terms added to the task loss.

A regulariser is configured in the recipe's ``regularisers`` list (``{name, weight, ...}``),
set up once on the pre-trained model before training (``setup``), and asked for a penalty
at every training step (``penalty``). Setup must be deterministic from the pre-trained
model and the recipe, so that a resumed run rebuilds exactly the same regulariser.
"""
from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import RecipeError
from ..registry import Registry, did_you_mean

REGULARISERS: Registry[type["Regulariser"]] = Registry("regulariser")


class RegulariserOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weight: float = Field(..., ge=0.0, description="multiplier of the penalty in the loss")


class Regulariser:
    name: ClassVar[str] = ""
    Options: ClassVar[type[RegulariserOptions]] = RegulariserOptions

    def __init__(self, options: RegulariserOptions):
        self.options = options

    def setup(self, model, context) -> None:
        """Snapshot what the penalty needs from the pre-trained model (``context``: the prepared run)."""

    def penalty(self, model, batch: dict, outputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def build_regularisers(sections, where: str = "regularisers") -> list[Regulariser]:
    """Build every regulariser of the recipe, collecting all option problems."""
    out, problems = [], []
    for i, section in enumerate(sections):
        raw = section.model_dump()
        name = raw.pop("name")
        if name not in REGULARISERS:
            problems.append(f"{where}[{i}].name: {REGULARISERS.unknown_message(name)}")
            continue
        cls = REGULARISERS.get(name)
        try:
            out.append(cls(cls.Options.model_validate(raw)))
        except ValidationError as e:
            for err in e.errors():
                key = f"{where}[{i}]." + ".".join(str(p) for p in err["loc"])
                if err["type"] == "extra_forbidden":
                    problems.append(f"{key}: not an option of {name!r}"
                                    f"{did_you_mean(err['loc'][-1], cls.Options.model_fields)}")
                else:
                    problems.append(f"{key}: {err['msg']}")
    if problems:
        raise RecipeError(problems=problems)
    return out

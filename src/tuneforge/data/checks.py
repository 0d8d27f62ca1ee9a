"""The recipe check and hook the data package owns: the data's files and columns, and ``data.augment``.

Registered into :mod:`tuneforge.recipe.checks` and :mod:`tuneforge.recipe.hooks` when imported.
"""
from __future__ import annotations

from ..recipe.checks import RECIPE_CHECKS
from ..recipe.hooks import provide
from .augment.spec import parse_augment
from .check import check_data

provide("data.augment")(parse_augment)


@RECIPE_CHECKS.register("data", order=70, needs=("task",))
def _data(recipe, ctx) -> list[str]:
    """The files exist and hold the task's columns (read from their headers, not loaded)."""
    return check_data(recipe.data, ctx.task)

"""The recipe check the search owns: the ``search`` section's space.

Registered into :mod:`tuneforge.recipe.checks` when imported.
"""
from __future__ import annotations

from ..recipe.checks import RECIPE_CHECKS
from .space import space_problems


@RECIPE_CHECKS.register("search", order=200, needs=("task",))
def _space(recipe, ctx) -> list[str]:
    """Every dimension of the space parses and every value it can take makes a valid recipe."""
    if recipe.search is None:
        return []
    info = ctx.model
    blocks = max(1, len(info.block_names) - 1) if info is not None and info.block_names else None
    return space_problems(recipe.model_dump(mode="python"), recipe.search, recipe.task, blocks)

"""The recipe check continual fine-tuning owns: a ``tasks`` sequence that can be trained in order.

Registered into :mod:`tuneforge.recipe.checks` when imported.
"""
from __future__ import annotations

from ..recipe.checks import RECIPE_CHECKS
from .sequence import continual_problems


@RECIPE_CHECKS.register("tasks, continual", order=220)
def _continual(recipe, ctx) -> list[str]:
    """Checks the steps' own data and regularisers too, so a problem the recipe-wide checks found is said once."""
    return [p for p in continual_problems(recipe) if p not in ctx.problems]

"""The recipe check the strategy race owns: what ``strategy.name: auto`` needs beyond a valid recipe.

Registered into :mod:`tuneforge.recipe.checks` when imported.
"""
from __future__ import annotations

from ..recipe.checks import RECIPE_CHECKS
from .race import race_problems


@RECIPE_CHECKS.register("strategy.name: auto", order=180)
def _race(recipe, ctx) -> list[str]:
    return race_problems(recipe) if recipe.strategy.name == "auto" else []

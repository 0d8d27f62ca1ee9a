"""The recipe check the regularisers own: every listed regulariser exists and takes its options.

Registered into :mod:`tuneforge.recipe.checks` when imported.
"""
from __future__ import annotations

from ..errors import TuneforgeError
from ..recipe.checks import RECIPE_CHECKS
from .base import build_regularisers


@RECIPE_CHECKS.register("regularisers", order=30)
def _regularisers(recipe, ctx) -> list[str]:
    try:
        build_regularisers(recipe.regularisers)
    except TuneforgeError as e:
        return list(e.problems)
    return []

"""The recipe checks the frozen-prefix cache owns: ``train.cache_frozen: on`` where the cache cannot be exact.

Registered into :mod:`tuneforge.recipe.checks` when imported.
"""
from __future__ import annotations

from ..recipe.checks import RECIPE_CHECKS


@RECIPE_CHECKS.register("train.cache_frozen with train.compile", order=110)
def _with_compile(recipe, ctx) -> list[str]:
    if recipe.train.cache_frozen == "on" and recipe.train.compile:
        return ["train.cache_frozen: 'on' swaps module outputs per batch, which train.compile's graph would "
                "re-trace; set train.cache_frozen: auto (off under compile) or drop train.compile"]
    return []


@RECIPE_CHECKS.register("train.cache_frozen with data.augment", order=120)
def _with_augment(recipe, ctx) -> list[str]:
    if recipe.train.cache_frozen == "on" and recipe.data.augment and recipe.data.augment_views is None:
        return ["train.cache_frozen: 'on' records the frozen blocks' outputs once per image, but data.augment "
                "changes the images in every epoch (the cache would replay one fixed view); set "
                "train.cache_frozen: auto (the cache is then off), set data.augment_views: K to cache K "
                "fixed views per image, or drop data.augment"]
    return []

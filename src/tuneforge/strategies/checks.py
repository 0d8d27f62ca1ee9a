"""The recipe checks the strategies own: the strategy's name and options, and the model's blocks it needs.

Registered into :mod:`tuneforge.recipe.checks` when imported; the strategy built here is the
``strategy`` fact later checks read (privacy, the model's blocks).
"""
from __future__ import annotations

from ..errors import TuneforgeError
from ..recipe.checks import RECIPE_CHECKS
from .base import Strategy, feature_encoder_problems


@RECIPE_CHECKS.register("strategy", order=20)
def _strategy(recipe, ctx) -> list[str]:
    """The section builds a strategy (known name, valid options) that suits the rest of the recipe."""
    try:
        ctx.strategy = Strategy.from_section(recipe.strategy)
    except TuneforgeError as e:
        return [p if p.startswith("strategy") else f"strategy.name: {p}" for p in e.problems]
    return ctx.strategy.recipe_problems(recipe)


@RECIPE_CHECKS.register("strategy.blocks", order=150, needs=("strategy", "model"))
def _blocks(recipe, ctx) -> list[str]:
    """The model has the blocks the strategy names (known from its config, before any weights load)."""
    blocks = list(ctx.model.block_names)
    if not blocks:
        return []
    return ctx.strategy.check(blocks) + feature_encoder_problems(ctx.strategy.options, blocks)

"""Check a recipe against the world before any heavy work: registries, files, columns, model shape.

Collects every problem and reports them together; loads no model weights and no full data set. The
checks themselves belong to the packages that own each idea (tasks, strategies, data, models, privacy,
search, continual...) and are registered in :mod:`.checks`; this module walks them.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import RecipeError
from .checks import RECIPE_CHECKS, run_checks
from .load import recipe_tree, schema_problems
from .schema import Recipe


def recipe_problems(recipe: Recipe) -> list[str]:
    """Every problem the owners' registered checks find (:mod:`.checks`), in their order."""
    return run_checks(recipe)


@RECIPE_CHECKS.register("output.dir", order=230)
def _output_dir(recipe, ctx) -> list[str]:
    out = Path(recipe.output.dir)
    if out.exists() and not out.is_dir():
        return [f"output.dir: {out} exists and is not a folder"]
    return []


def check_recipe(recipe: Recipe) -> None:
    problems = recipe_problems(recipe)
    if problems:
        raise RecipeError(problems=problems)


def all_problems(source, overrides=()) -> list[str]:
    """Every problem of a recipe: schema (types, unknown keys) and world (files, columns, model) together."""
    recipe, problems = schema_problems(recipe_tree(source, overrides))
    if recipe is not None:
        problems += [p for p in recipe_problems(recipe) if p not in problems]
    return problems


def resolved_defaults(source, overrides=()) -> list[str]:
    """The settings a valid recipe leaves unset and what they will be, as far as is known without
    loading weights or data: one line each (``optimizer.lr 5e-05 (default of full for ...)``).

    Values that depend on the step budget or on the head's inputs (stage lengths, whether the
    head can be solved) are settled when training starts and printed with the plan.
    """
    from ..models import peek_model
    from ..strategies import Strategy
    from ..strategies.defaults import FEATURE_ENCODER, DefaultsContext, describe, family_group, resolve_defaults

    recipe, problems = schema_problems(recipe_tree(source, overrides))
    if recipe is None or problems:
        return []
    info = peek_model(recipe.model)
    strategy = Strategy.from_section(recipe.strategy)
    ctx = DefaultsContext(family_group(info.family, list(info.block_names)), len(info.block_names),
                          feature_encoder=FEATURE_ENCODER in info.block_names)
    _, _, provenance = resolve_defaults(recipe, strategy, ctx)
    return describe(provenance)

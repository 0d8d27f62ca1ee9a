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

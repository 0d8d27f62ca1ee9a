"""The recipe checks training owns: optimizer and scheduler names, early stopping, the learning rate, trackers.

Registered into :mod:`tuneforge.recipe.checks` when imported.
"""
from __future__ import annotations

from ..recipe.checks import RECIPE_CHECKS
from .optimizers import OPTIMIZERS
from .schedules import SCHEDULERS
from .trackers import tracker_problems


@RECIPE_CHECKS.register("optimizer.name, scheduler.name", order=40)
def _names(recipe, ctx) -> list[str]:
    problems = []
    for key, registry, value in (("optimizer.name", OPTIMIZERS, recipe.optimizer.name),
                                 ("scheduler.name", SCHEDULERS, recipe.scheduler.name)):
        if value not in registry:
            problems.append(f"{key}: {registry.unknown_message(value)}")
    return problems


@RECIPE_CHECKS.register("train.early_stopping", order=100, needs=("task",))
def _early_stopping(recipe, ctx) -> list[str]:
    if recipe.train.early_stopping is not None and recipe.data.validation is None:
        return ["train.early_stopping: needs a validation split (data.validation)"]
    return []


@RECIPE_CHECKS.register("optimizer.lr_factor", order=170)
def _lr_and_factor(recipe, ctx) -> list[str]:
    if recipe.optimizer.lr is not None and recipe.optimizer.lr_factor != 1.0:
        return ["optimizer.lr_factor: multiplies the default learning rate, but optimizer.lr is set; set one of them"]
    return []


@RECIPE_CHECKS.register("output.trackers", order=210)
def _trackers(recipe, ctx) -> list[str]:
    return tracker_problems(recipe.output)

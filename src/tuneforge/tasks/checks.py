"""The recipe checks and hooks the tasks own: the task's name, what it can train, its default strategy.

Registered into the recipe layer (:mod:`tuneforge.recipe.checks`, :mod:`tuneforge.recipe.hooks`) when
imported; the task found here is the ``task`` fact later checks read.
"""
from __future__ import annotations

from ..recipe.checks import RECIPE_CHECKS
from ..recipe.hooks import provide
from .base import TASKS


@provide("task.default_strategy")
def default_strategy(task_name: str) -> str:
    """``Task.default_strategy`` of the named task (``full`` for a name no task has: the check below says so)."""
    return getattr(TASKS.get(task_name), "default_strategy", "full") if task_name in TASKS else "full"


@RECIPE_CHECKS.register("task", order=10)
def _task(recipe, ctx) -> list[str]:
    if recipe.task not in TASKS:
        return ["task: " + TASKS.unknown_message(recipe.task)]
    ctx.task = TASKS.get(recipe.task)
    return []


@RECIPE_CHECKS.register("train.class_balance", order=80, needs=("task",))
def _class_balance(recipe, ctx) -> list[str]:
    balance, task = recipe.train.class_balance, ctx.task
    if balance in ("weights", "sampling") and balance not in task.class_balance_choices:
        return [f"train.class_balance: {task.name} supports "
                f"{', '.join(('none', 'auto') + task.class_balance_choices)}, not {balance!r}"]
    return []


@RECIPE_CHECKS.register("train.label_smoothing", order=90, needs=("task",))
def _label_smoothing(recipe, ctx) -> list[str]:
    if recipe.train.label_smoothing and not ctx.task.smooths_labels:
        return [f"train.label_smoothing: {ctx.task.name} has no class targets to smooth (only single-label "
                f"classification and token classification do); remove it"]
    return []

"""Recipe checks for the ``evaluate`` section, run by ``tuneforge validate`` before any work.

Registered into :mod:`tuneforge.recipe.checks` when imported.
"""
from __future__ import annotations

from pathlib import Path

from ..recipe.checks import RECIPE_CHECKS
from .metrics import METRICS


def evaluate_problems(recipe) -> list[str]:
    """Problems of ``evaluate.*`` that the schema alone cannot see (files, combinations)."""
    ev, problems = recipe.evaluate, []
    if ev.folds is not None and recipe.data.test is not None and not isinstance(recipe.data.test, float):
        problems.append("evaluate.folds: cross-validation tests on each held-out fold, so data.test must not "
                        "be a separate file; remove data.test or evaluate.folds")
    r = ev.retention
    if r is not None and r.data is not None and not Path(r.data).expanduser().exists():
        problems.append(f"evaluate.retention.data: {r.data} does not exist")
    return problems


@RECIPE_CHECKS.register("evaluate.metric", order=50)
def _metric(recipe, ctx) -> list[str]:
    metric = recipe.evaluate.metric
    if metric is not None and metric not in METRICS:
        return [f"evaluate.metric: {METRICS.unknown_message(metric)}"]
    return []


@RECIPE_CHECKS.register("evaluate.metric of the task", order=60, needs=("task",))
def _metric_of_task(recipe, ctx) -> list[str]:
    """The monitored metric scores what the task predicts (a regression metric for a regression task...)."""
    metric, task = recipe.evaluate.metric, ctx.task
    if metric is not None and metric in METRICS and metric not in task.metric_names():
        return [f"evaluate.metric: {metric!r} is not a {task.metric_kind} metric; "
                f"choose one of: {', '.join(task.metric_names())}"]
    return []


@RECIPE_CHECKS.register("evaluate", order=190)
def _evaluate(recipe, ctx) -> list[str]:
    return evaluate_problems(recipe)

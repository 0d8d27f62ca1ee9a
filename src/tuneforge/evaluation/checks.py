"""Recipe checks for the ``evaluate`` section, run by ``tuneforge validate`` before any work."""
from __future__ import annotations

from pathlib import Path


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

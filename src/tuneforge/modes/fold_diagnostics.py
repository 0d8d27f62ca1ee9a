"""Diagnostics and the baseline beside the model in a k-fold cross-validation summary.

The parent ``metrics.json`` gets ``folds_majority`` (the majority / mean predictor per fold),
``vs_baseline`` (a paired t-test of the model against the linear probe across folds, behind the
verdict) and ``diagnostics``: every fold's own diagnostics (tagged with ``fold``) plus a
``below-baseline`` one when the model is significantly worse than the probe across folds.
"""
from __future__ import annotations

import numpy as np

from ..evaluation import greater_is_better
from ..evaluation.diagnostics import RunFacts, check_below_baseline, compare_folds_to_baseline
from ..evaluation.folds import summarise_folds
from ..runs.summary import print_verdict_and_diagnostics
from ..tasks import TASKS
from ..terminal import Column, fit_table, plan_columns, table_width


def fold_diagnostics(per_fold: list[dict], recipe) -> dict:
    """The keys listed in the module docstring."""

    metric = recipe.evaluate.metric or TASKS.get(recipe.task).default_metric()
    out: dict = {"monitor": metric,
                 "folds_majority": summarise_folds([m["baseline_majority"] for m in per_fold])
                 if all(m.get("baseline_majority") for m in per_fold) else {}}
    diagnostics = [{**d, "fold": i + 1, "message": f"fold {i + 1}: {d['message']}"}
                   for i, m in enumerate(per_fold) for d in m.get("diagnostics") or []]
    model = [m.get("test", {}).get(metric) for m in per_fold]
    base = [(m.get("baseline") or {}).get(metric) for m in per_fold]
    vs = None
    if all(v is not None for v in model + base):
        vs = compare_folds_to_baseline(model, base, metric, greater_is_better(metric), recipe.evaluate.confidence)
        facts = RunFacts(kind="", metric=metric, greater_is_better=greater_is_better(metric), vs_baseline=vs,
                         score=float(np.mean(model)), baseline_score=float(np.mean(base)), lr=recipe.optimizer.lr,
                         epochs=recipe.train.epochs, strategy=recipe.strategy.name)
        below = check_below_baseline(facts)
        if below is not None:
            diagnostics.insert(0, below.to_dict())
    out.update(vs_baseline=vs, diagnostics=diagnostics)
    return out


def _mean_std(summary: dict, name: str) -> str:
    s = summary.get(name)
    return "-" if not s else f"{s['mean']:.4f} ± {s['std']:.4f}"


def print_folds_table(console, metrics: dict) -> None:
    """Per metric: the model's mean ± std beside the baseline's and the majority predictor's, then
    each fold's score. When all of that is wider than the terminal (5 folds at 80 columns), the
    means come first and each fold's scores follow in as many tables as it takes, so every number
    is shown and no "mean ± std" is broken over two lines."""

    k = metrics["k"]
    title = f"{k}-fold cross-validation · {metrics['model']} · {metrics['strategy']['name']}"
    names = list(metrics["folds"])
    summary = [Column("metric", 0, "left"), Column("fine-tuned mean ± std", 0, whole=True),
               Column("baseline (linear probe)", 0, whole=True), Column("majority / mean", 1, whole=True)]
    rows = [[name, _mean_std(metrics["folds"], name), _mean_std(metrics.get("folds_baseline") or {}, name),
             _mean_std(metrics.get("folds_majority") or {}, name)] for name in names]
    scores = [[f"{v:.4f}" for v in metrics["folds"][name]["values"]] for name in names]
    folds = [Column(f"fold {i + 1}", 0) for i in range(k)]
    together = [r + s for r, s in zip(rows, scores)]
    if len(plan_columns(summary + folds, together, console.width)[0]) == len(summary) + k:
        console.print(fit_table(summary + folds, together, console.width, title=title))
    else:
        console.print(fit_table(summary, rows, console.width, title=title))
        tables = -(-k // _folds_per_table(folds, names, scores, console.width))
        bounds = [round(t * k / tables) for t in range(tables + 1)]   # near-equal parts: 10 folds as 5 + 5
        for start, end in zip(bounds, bounds[1:]):
            part = "" if tables == 1 else f" (fold {end} of {k})" if end - start == 1 else \
                f" (folds {start + 1}-{end} of {k})"
            console.print(fit_table([summary[0]] + folds[start:end],
                                    [[name] + s[start:end] for name, s in zip(names, scores)],
                                    console.width, title=f"each fold's test score{part}"))
    print_verdict_and_diagnostics(console, metrics)


def _folds_per_table(folds: list[Column], names: list[str], scores: list[list[str]], width: int) -> int:
    """How many fold columns fit beside the metric names in ``width`` (at least one)."""
    name = max([len("metric")] + [len(n) for n in names])
    fold = max([len(c.header) for c in folds] + [len(v) for s in scores for v in s])
    n = 1
    while n < len(folds) and table_width([name] + [fold] * (n + 1)) <= width:
        n += 1
    return n

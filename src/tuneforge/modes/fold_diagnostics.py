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
from ..terminal import Column, fit_table


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
    """Per metric: the model's mean ± std beside the baseline's and the majority predictor's, then each fold."""

    k = metrics["k"]
    columns = [Column("metric", 0, "left"), Column("fine-tuned mean ± std", 0),
               Column("baseline (linear probe)", 0), Column("majority / mean", 1)] + \
              [Column(f"fold {i + 1}", 2) for i in range(k)]
    rows = [[name, _mean_std(metrics["folds"], name), _mean_std(metrics.get("folds_baseline") or {}, name),
             _mean_std(metrics.get("folds_majority") or {}, name), *[f"{v:.4f}" for v in s["values"]]]
            for name, s in metrics["folds"].items()]
    title = f"{k}-fold cross-validation · {metrics['model']} · {metrics['strategy']['name']}"
    console.print(fit_table(columns, rows, console.width, title=title))
    print_verdict_and_diagnostics(console, metrics)

"""The decision threshold of a binary classifier, tuned on the validation split.

A model trained on imbalanced data often ranks examples well (ROC AUC) but puts few of them
above probability 0.5 for the rare class. Moving the threshold on P(class 1) recovers the
metric the run monitors. :func:`tune_threshold` tries a grid on the validation outputs and
keeps the best (ties go to the candidate nearest 0.5, so a threshold that does not help stays
0.5); :func:`decide` applies it. Metrics that read only probabilities (ROC AUC, PR AUC, log
loss, ECE) do not depend on it; when the monitored metric is one of them, the threshold is
tuned for ``macro_f1`` instead and the decision says so.

Example::

    d = tune_threshold(y_val, logits_val, "macro_f1")   # {"threshold": 0.23, "metric": "macro_f1", ...}
    pred = decide(softmax(logits_test, axis=1), d["threshold"])
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from scipy.special import softmax

from .metrics import METRICS
from .metrics import greater_is_better

GRID = np.round(np.arange(0.02, 0.99, 0.01), 2)
PROBABILITY_ONLY = {"roc_auc", "pr_auc", "log_loss", "ece"}   # metrics a threshold cannot change
FALLBACK_METRIC = "macro_f1"


def decide(probs: np.ndarray, threshold: Optional[float]) -> np.ndarray:
    """Class ids: class 1 where P(class 1) >= ``threshold`` (binary), else the most probable class."""
    probs = np.asarray(probs)
    if threshold is None:
        return probs.argmax(axis=1)
    return (probs[:, 1] >= threshold).astype(np.int64)


def tune_threshold(y_true, logits, metric: str, grid: np.ndarray = GRID) -> dict:
    """The threshold on P(class 1) with the best ``metric`` on these (validation) outputs.

    Returns ``{"threshold", "metric", "validation": best value, "validation_at_0.5": value at 0.5}``.
    """

    y = np.asarray(y_true).astype(np.int64)
    probs = softmax(np.asarray(logits, dtype=np.float64), axis=1)
    if metric in PROBABILITY_ONLY or metric not in METRICS:
        metric = FALLBACK_METRIC
    fn, sign = METRICS.get(metric), (1.0 if greater_is_better(metric) else -1.0)
    grid = np.union1d(grid, [0.5])
    scores = np.array([sign * fn(y, decide(probs, t), probs) for t in grid])
    best = np.flatnonzero(scores >= scores.max() - 1e-12)
    threshold = float(grid[best[np.argmin(np.abs(grid[best] - 0.5))]])
    return {"threshold": threshold, "metric": metric, "validation": float(sign * scores.max()),
            "validation_at_0.5": float(fn(y, decide(probs, 0.5), probs))}

"""ROC and precision-recall curves (one-vs-rest), downsampled so they fit in metrics.json.

Binary tasks get the curve of the second class (the "positive" one); multi-class tasks
get one curve per class present in the labels. Curves come from scikit-learn's
``roc_curve`` / ``precision_recall_curve`` and keep at most ``max_points`` points each.

Example::

    curves = classification_curves(y_test, probs, ["neg", "pos"])
    curves["roc"]["pos"]["auc"], len(curves["roc"]["pos"]["fpr"]) <= 101
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from sklearn import metrics as skm

from .calibration import reliability

MAX_POINTS = 100


def one_vs_rest_classes(y_true: np.ndarray, k: int) -> list[int]:
    """Classes that get a curve: the positive class for binary tasks, else every class with
    both positive and negative examples in ``y_true``."""
    present = set(np.unique(y_true).tolist())
    if len(present) < 2:
        return []
    candidates = [1] if k == 2 else range(k)
    return [c for c in candidates if c in present]


def downsample(*arrays: np.ndarray, max_points: int = MAX_POINTS) -> list[list[float]]:
    """Keep at most ``max_points`` evenly spaced points (first and last always kept), rounded."""
    n = len(arrays[0])
    idx = np.unique(np.linspace(0, n - 1, min(n, max_points)).round().astype(int)) if n else np.arange(0)
    return [np.round(np.asarray(a, dtype=np.float64)[idx], 4).tolist() for a in arrays]


def classification_curves(y_true: np.ndarray, probs: np.ndarray, label_names: Optional[list[str]] = None,
                          max_points: int = MAX_POINTS) -> dict:
    """``{"roc": {class: {fpr, tpr, auc}}, "pr": {class: {recall, precision, ap}}, "calibration": ...}``."""
    y_true = np.asarray(y_true)
    probs = np.asarray(probs, dtype=np.float64)
    k = probs.shape[1]
    names = [str(n) for n in label_names] if label_names is not None else [str(i) for i in range(k)]
    roc, pr = {}, {}
    for c in one_vs_rest_classes(y_true, k):
        positive = (y_true == c).astype(int)
        fpr, tpr, _ = skm.roc_curve(positive, probs[:, c])
        precision, recall, _ = skm.precision_recall_curve(positive, probs[:, c])
        fpr, tpr = downsample(fpr, tpr, max_points=max_points)
        recall, precision = downsample(recall[::-1], precision[::-1], max_points=max_points)
        roc[names[c]] = {"fpr": fpr, "tpr": tpr, "auc": float(skm.roc_auc_score(positive, probs[:, c]))}
        pr[names[c]] = {"recall": recall, "precision": precision,
                        "ap": float(skm.average_precision_score(positive, probs[:, c])),
                        "prevalence": float(positive.mean())}
    return {"roc": roc, "pr": pr, "calibration": reliability(y_true, probs)}

"""K-fold cross-validation: which rows each fold tests on, and how fold results are summarised.

Classification folds are stratified (scikit-learn ``StratifiedKFold``), regression folds
plain (``KFold``); both shuffle with the run's seed, so the folds are repeatable and the
same for every strategy of a comparison.

Example::

    for train_idx, test_idx in kfold_indices(labels, k=5, seed=42, stratified=True): ...
    summarise_folds([{"accuracy": 0.8}, {"accuracy": 0.9}])["accuracy"]
    # {"mean": 0.85, "std": 0.0707..., "values": [0.8, 0.9]}
"""
from __future__ import annotations

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from ..errors import DataError


def kfold_indices(targets: np.ndarray, k: int, seed: int, stratified: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` pairs (train rows, test rows); the test parts are disjoint and cover every row."""
    n = len(targets)
    if k < 2 or k > n:
        raise DataError(f"evaluate.folds: cannot make {k} folds from {n} rows")
    if stratified:
        _, counts = np.unique(targets, return_counts=True)
        if counts.min() < k:
            raise DataError(f"evaluate.folds: the smallest class has {counts.min()} rows, fewer than the {k} "
                            "folds; use fewer folds")
        splitter = StratifiedKFold(k, shuffle=True, random_state=seed % 2**32)
    else:
        splitter = KFold(k, shuffle=True, random_state=seed % 2**32)
    return [(np.sort(tr), np.sort(te)) for tr, te in splitter.split(np.zeros(n), targets if stratified else None)]


def summarise_folds(per_fold: list[dict]) -> dict:
    """Mean, sample standard deviation and per-fold values of each scalar metric present in every fold."""
    names = [m for m, v in per_fold[0].items() if isinstance(v, (int, float))
             and all(isinstance(f.get(m), (int, float)) for f in per_fold)]
    out = {}
    for m in names:
        values = np.array([f[m] for f in per_fold], dtype=np.float64)
        out[m] = {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
                  "values": values.tolist()}
    return out

"""Multi-label metrics, per-label thresholds, bootstrap intervals and baselines.

Targets are a 0/1 matrix ``Y [N, L]``, outputs are logits ``[N, L]`` (one sigmoid per label).
A label is predicted when its probability reaches its threshold (0.5 unless tuned on the
validation split by :func:`tune_thresholds`).

Every scalar metric is computed from per-example quantities weighted by resample counts
``W [B, N]``, so the plain metric (``W`` = ones) and each bootstrap resample share one formula:

* ``micro_f1``: F1 of all (example, label) decisions pooled;
* ``macro_f1``: unweighted mean of per-label F1 (a label never true nor predicted scores 0,
  as scikit-learn's ``zero_division=0``);
* ``samples_f1``: mean over examples of the F1 of their label sets (an example with no true
  and no predicted label scores 1);
* ``subset_accuracy``: share of examples whose predicted label set is exactly right;
* ``hamming_loss``: share of wrong (example, label) decisions (lower is better);
* ``map``: mean over labels (with at least one positive) of the average precision of the scores.

Example::

    thresholds = tune_thresholds(y_val, logits_val)
    m = multilabel_metrics(y_test, logits_test, ["sports", "politics"], thresholds)
    m["micro_f1"], m["per_label"]["sports"]["precision"]
"""
from __future__ import annotations

import warnings
from typing import Optional

import numpy as np
from scipy.special import expit, logit

from .bootstrap import _chunks, _safe_div, percentile_interval
from .metrics import register_metric, set_default_metric
from ..errors import TrainingError

KIND = "multilabel"
THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)   # candidates tried per label
SCALARS = ("micro_f1", "macro_f1", "samples_f1", "subset_accuracy", "hamming_loss", "map")
_EPS = 1e-6


def decide(probs: np.ndarray, thresholds: Optional[np.ndarray] = None) -> np.ndarray:
    """0/1 predictions ``[N, L]``: probability >= the label's threshold (0.5 by default)."""
    t = np.full(probs.shape[1], 0.5) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    return (probs >= t[None, :]).astype(np.float64)


def weighted_scores(y: np.ndarray, pred: np.ndarray, probs: np.ndarray, w: np.ndarray,
                    names=SCALARS) -> dict[str, np.ndarray]:
    """Every metric in ``names`` for each row of resample counts ``w [B, N]``: ``{name: [B]}``."""
    y, pred = y.astype(np.float64), pred.astype(np.float64)
    n = w.sum(1)
    out: dict[str, np.ndarray] = {}
    tp, fp, fn = w @ (y * pred), w @ ((1 - y) * pred), w @ (y * (1 - pred))          # [B, L]
    if "micro_f1" in names:
        out["micro_f1"] = _safe_div(2 * tp.sum(1), 2 * tp.sum(1) + fp.sum(1) + fn.sum(1))
    if "macro_f1" in names:
        out["macro_f1"] = _safe_div(2 * tp, 2 * tp + fp + fn).mean(1)
    if "samples_f1" in names:
        both = y.sum(1) + pred.sum(1)
        f1 = np.where(both > 0, 2 * (y * pred).sum(1) / np.maximum(both, 1), 1.0)
        out["samples_f1"] = w @ f1 / n
    if "subset_accuracy" in names:
        out["subset_accuracy"] = w @ (y == pred).all(1).astype(np.float64) / n
    if "hamming_loss" in names:
        out["hamming_loss"] = w @ (y != pred).mean(1) / n
    if "map" in names:
        out["map"] = _weighted_map(y, probs, w)
    return out


def _weighted_map(y: np.ndarray, probs: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Mean over labels of average precision per resample (tied scores grouped as scikit-learn does)."""
    aps = []
    for c in range(y.shape[1]):
        order = np.argsort(-probs[:, c], kind="stable")
        s = probs[order, c]
        starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        is_pos = y[order, c]
        pos = np.add.reduceat(w[:, order] * is_pos, starts, axis=1)
        neg = np.add.reduceat(w[:, order] * (1 - is_pos), starts, axis=1)
        p_tot = pos.sum(1)
        tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
        ap = _safe_div((pos * _safe_div(tp, tp + fp)).sum(1), p_tot)
        aps.append(np.where(p_tot > 0, ap, np.nan))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # no label with a positive -> NaN
        return np.nanmean(np.stack(aps), axis=0)


def _check(y, outputs) -> tuple[np.ndarray, np.ndarray]:
    y, outputs = np.asarray(y, dtype=np.float64), np.asarray(outputs, dtype=np.float64)
    if y.ndim != 2 or outputs.shape != y.shape:
        raise ValueError(f"multi-label targets and outputs must both be [N, L], got {y.shape} and {outputs.shape}")
    if len(y) == 0:
        raise ValueError("cannot compute metrics on an empty split")
    return y, outputs


def multilabel_metrics(y_true, outputs, label_names: Optional[list[str]] = None,
                       thresholds: Optional[np.ndarray] = None) -> dict:
    """Every multi-label metric of one split from logits, plus ``per_label`` precision/recall/F1/support/threshold."""

    y, logits = _check(y_true, outputs)
    if not np.isfinite(logits).all():
        bad = int((~np.isfinite(logits)).any(1).sum())
        raise TrainingError(f"the model produced non-finite outputs for {bad} of {len(logits)} examples")
    probs = expit(logits)
    pred = decide(probs, thresholds)
    result = {k: float(v[0]) for k, v in weighted_scores(y, pred, probs, np.ones((1, len(y)))).items()}
    names = label_names or [str(i) for i in range(y.shape[1])]
    t = np.full(y.shape[1], 0.5) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    tp, fp, fn = (y * pred).sum(0), ((1 - y) * pred).sum(0), (y * (1 - pred)).sum(0)
    precision, recall = _safe_div(tp, tp + fp), _safe_div(tp, tp + fn)
    f1 = _safe_div(2 * tp, 2 * tp + fp + fn)
    result["per_label"] = {names[i]: {"precision": float(precision[i]), "recall": float(recall[i]),
                                      "f1": float(f1[i]), "support": int(y[:, i].sum()),
                                      "threshold": float(t[i])} for i in range(len(names))}
    return result


def tune_thresholds(y_true, outputs, grid: np.ndarray = THRESHOLD_GRID) -> np.ndarray:
    """Per label, the threshold from ``grid`` with the best F1 on these (validation) outputs.

    Ties go to the candidate closest to 0.5; a label without positives here keeps 0.5.
    """
    y, logits = _check(y_true, outputs)
    probs = expit(logits)
    out = np.full(y.shape[1], 0.5)
    for c in range(y.shape[1]):
        if y[:, c].sum() == 0:
            continue
        pred = probs[:, c][:, None] >= grid[None, :]                     # [N, G]
        tp = (pred & (y[:, c][:, None] > 0)).sum(0)
        f1 = _safe_div(2.0 * tp, pred.sum(0) + y[:, c].sum())
        best = np.flatnonzero(f1 >= f1.max() - 1e-12)
        out[c] = float(grid[best[np.argmin(np.abs(grid[best] - 0.5))]])
    return out


def resampled(y_true, outputs, thresholds=None, resamples: int = 1000, seed: int = 0,
              metrics: Optional[list[str]] = None) -> dict[str, np.ndarray]:
    """Each scalar metric on ``resamples`` bootstrap resamples of the examples (rows)."""
    y, logits = _check(y_true, outputs)
    probs = expit(logits)
    pred = decide(probs, thresholds)
    names = tuple(metrics or SCALARS)
    parts: dict[str, list] = {m: [] for m in names}
    for w in _chunks(len(y), resamples, seed):
        for m, v in weighted_scores(y, pred, probs, w, names).items():
            parts[m].append(v)
    return {m: np.concatenate(v) for m, v in parts.items()}


def confidence_intervals(y_true, outputs, thresholds=None, resamples: int = 1000, confidence: float = 0.95,
                         seed: int = 0) -> dict[str, list[float]]:
    if not resamples:
        return {}
    return {m: percentile_interval(v, confidence)
            for m, v in resampled(y_true, outputs, thresholds, resamples, seed).items()}


def paired_bootstrap(y_true, outputs_a, outputs_b, metric: str, resamples: int = 1000, confidence: float = 0.95,
                     seed: int = 0) -> dict:
    """Difference ``A - B`` of ``metric`` on the same examples (0.5 thresholds), interval and p-value."""
    a = resampled(y_true, outputs_a, None, resamples, seed, [metric])[metric]
    b = resampled(y_true, outputs_b, None, resamples, seed, [metric])[metric]
    diff = (a - b)[np.isfinite(a - b)]
    observed = multilabel_metrics(y_true, outputs_a)[metric] - multilabel_metrics(y_true, outputs_b)[metric]
    if not len(diff):
        return {"difference": float(observed), "ci": [float("nan")] * 2, "p_value": float("nan")}
    p = 2 * min((diff <= 0).mean(), (diff >= 0).mean())
    return {"difference": float(observed), "ci": percentile_interval(diff, confidence), "p_value": float(min(p, 1.0))}


# -- baselines ---------------------------------------------------------------------------------

def prior_logits(train_targets, n: int) -> np.ndarray:
    """Every example gets each label's training rate as its probability (as logits ``[n, L]``)."""
    rate = np.clip(np.asarray(train_targets, dtype=np.float64).mean(0), _EPS, 1 - _EPS)
    return np.tile(logit(rate), (n, 1))


def fit_one_vs_rest_probe(features: np.ndarray, targets: np.ndarray, seed: int = 0):
    """One standardised logistic regression per label on frozen features; returns ``features -> logits``.

    A label that is always (or never) on in training gets its constant training rate.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    scaler = StandardScaler().fit(x)
    xs = scaler.transform(x)
    heads = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for c in range(y.shape[1]):
            if 0 < y[:, c].sum() < len(y):
                heads.append(LogisticRegression(max_iter=1000, random_state=seed).fit(xs, y[:, c].astype(int)))
            else:
                heads.append(float(logit(np.clip(y[:, c].mean(), _EPS, 1 - _EPS))))

    def predict(f: np.ndarray) -> np.ndarray:
        fs = scaler.transform(np.asarray(f, dtype=np.float64))
        return np.stack([h.decision_function(fs) if not isinstance(h, float) else np.full(len(fs), h)
                         for h in heads], axis=1)
    return predict


def _metric_fn(name: str):
    def fn(y_true, y_pred, y_score=None) -> float:
        y, pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
        probs = pred if y_score is None else np.asarray(y_score, np.float64)
        return float(weighted_scores(y, pred, probs, np.ones((1, len(y))), (name,))[name][0])
    return fn


for _name, _text in [("micro_f1", "multi-label: F1 of all (example, label) decisions pooled"),
                     ("macro_f1", ""),
                     ("samples_f1", "multi-label: mean F1 of each example's label set"),
                     ("subset_accuracy", "multi-label: share of examples whose label set is exactly right"),
                     ("hamming_loss", "multi-label: share of wrong (example, label) decisions (lower is better)"),
                     ("map", "multi-label: mean over labels of the average precision of the scores")]:
    register_metric(_name, KIND, _text, _metric_fn(_name), lower_is_better=_name == "hamming_loss")
set_default_metric(KIND, "micro_f1")


def label_prior_entropy(targets) -> float:
    """The mean binary entropy of the label rates of a 0/1 matrix: the BCE of a predictor that always
    answers each label's training rate."""
    rate = np.clip(np.asarray(targets, dtype=np.float64).mean(0), 1e-7, 1 - 1e-7)
    return float(np.mean(-(rate * np.log(rate) + (1 - rate) * np.log(1 - rate))))

"""Bootstrap confidence intervals for test metrics, and a paired bootstrap test between two models.

Resamples are drawn once as multinomial *counts* ``W [B, N]`` (how often each test
example appears in each resample), so most metrics become one matrix product over
per-example quantities instead of ``B`` calls into scikit-learn:

* classification: per-class true / predicted / true-positive counts give accuracy,
  balanced accuracy, macro precision / recall / F1 and weighted F1 with scikit-learn's
  conventions (labels seen in ``y_true`` or ``y_pred``, ``zero_division=0``); per-example
  losses give log-loss; per-bin gaps give ECE; cumulative sums over score-sorted
  examples give one-vs-rest ROC AUC and average precision;
* regression: weighted sums give MSE, RMSE, MAE and R².

Any other registered metric (one added later) is computed by its own
scikit-learn function on the first ``slow_resamples`` resamples. A test checks that the
fast formulas equal scikit-learn on resampled data.

Example::

    ci = confidence_intervals("classification", y_test, logits, resamples=1000)
    ci["accuracy"]        # [0.81, 0.87]
    paired_bootstrap("classification", y_test, logits_a, logits_b, "macro_f1")["p_value"]
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import numpy as np
from scipy.special import softmax

from .calibration import N_BINS, confidence_bins
from .metrics import METRICS, _KIND

SLOW_RESAMPLES = 200          # resamples used for metrics without a vectorised formula
_CELLS_PER_CHUNK = 20_000_000  # resample counts held at once (B x N)


def _chunks(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(seed)
    step = max(1, _CELLS_PER_CHUNK // max(n, 1))
    for start in range(0, resamples, step):
        yield rng.multinomial(n, np.full(n, 1.0 / n), size=min(step, resamples - start)).astype(np.float64)


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b > 0)


def _classification_fast(y: np.ndarray, probs: np.ndarray, w: np.ndarray,
                         threshold: Optional[float] = None) -> dict[str, np.ndarray]:
    n, k = probs.shape
    pred = probs.argmax(1) if threshold is None else (probs[:, 1] >= threshold).astype(np.int64)
    eye = np.eye(k)
    true_n, pred_n = w @ eye[y], w @ eye[pred]                 # [B, K] support and predicted counts
    tp = w @ (eye[y] * (pred == y)[:, None])
    seen = (true_n > 0) | (pred_n > 0)
    precision, recall = _safe_div(tp, pred_n), _safe_div(tp, true_n)
    f1 = _safe_div(2 * tp, true_n + pred_n)
    macro = lambda v: (v * seen).sum(1) / seen.sum(1)  # noqa: E731
    clipped = np.clip(probs[np.arange(n), y], np.finfo(np.float64).eps, 1.0)
    bins, conf, _ = confidence_bins(probs, N_BINS)
    gaps = w @ (np.eye(N_BINS)[bins] * ((probs.argmax(1) == y) - conf)[:, None])   # calibration: argmax
    return {"accuracy": tp.sum(1) / n, "balanced_accuracy": _safe_div(recall.sum(1), (true_n > 0).sum(1)),
            "macro_precision": macro(precision), "macro_recall": macro(recall), "macro_f1": macro(f1),
            "weighted_f1": (f1 * true_n).sum(1) / n, "log_loss": w @ -np.log(clipped) / n,
            "ece": np.abs(gaps).sum(1) / n, **_ranking_fast(y, probs, w)}


def _ranking_fast(y: np.ndarray, probs: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    """One-vs-rest ROC AUC (Mann-Whitney, ties counted half) and average precision, per resample.

    Examples are sorted by score once per class; tied scores are merged with ``reduceat`` so
    ties behave as in ``roc_auc_score`` / ``average_precision_score``. A class without both
    positives and negatives in a resample is left out of that resample's macro mean.
    """
    k = probs.shape[1]
    classes = [1] if k == 2 else range(k)
    aucs, aps = [], []
    for c in classes:
        order = np.argsort(-probs[:, c], kind="stable")
        s = probs[order, c]
        starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])          # first index of each tie group
        is_pos = (y[order] == c).astype(np.float64)
        pos = np.add.reduceat(w[:, order] * is_pos, starts, axis=1)    # [B, G], groups by falling score
        neg = np.add.reduceat(w[:, order] * (1 - is_pos), starts, axis=1)
        p_tot, n_tot = pos.sum(1), neg.sum(1)
        valid = (p_tot > 0) & (n_tot > 0)
        neg_below = n_tot[:, None] - np.cumsum(neg, axis=1)             # negatives scored lower
        auc = _safe_div((pos * (neg_below + 0.5 * neg)).sum(1), p_tot * n_tot)
        tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
        ap = _safe_div((pos * _safe_div(tp, tp + fp)).sum(1), p_tot)
        aucs.append(np.where(valid, auc, np.nan))
        aps.append(np.where(valid, ap, np.nan))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # a resample where no class is valid -> NaN
        return {"roc_auc": np.nanmean(np.stack(aucs), axis=0), "pr_auc": np.nanmean(np.stack(aps), axis=0)}


def _regression_fast(y: np.ndarray, pred: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    n = len(y)
    err = pred - y
    mse = w @ err**2 / n
    sst = w @ y**2 - (w @ y) ** 2 / n
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(sst > 0, 1.0 - (w @ err**2) / sst, np.nan)
    return {"mse": mse, "rmse": np.sqrt(mse), "mae": w @ np.abs(err) / n, "r2": r2}


def _prepare_classes(y_true, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(y_true).astype(np.int64), softmax(outputs, axis=1)


def _prepare_values(y_true, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(y_true, dtype=np.float64), outputs.reshape(len(outputs))


def _one_class(name: str, y: np.ndarray, scores: np.ndarray, idx: np.ndarray, threshold: Optional[float]) -> float:
    s = scores[idx]
    pred = s.argmax(1) if threshold is None else (s[:, 1] >= threshold).astype(np.int64)
    return METRICS.get(name)(y[idx], pred, s)


def _one_value(name: str, y: np.ndarray, scores: np.ndarray, idx: np.ndarray, threshold: Optional[float]) -> float:
    return METRICS.get(name)(y[idx], scores[idx], None)


@dataclass(frozen=True)
class _Family:
    """How one metric kind is resampled: targets and scores from outputs, the vectorised metrics of
    resample counts ``W``, and one metric on one resample's examples."""

    prepare: Callable[[Any, np.ndarray], tuple[np.ndarray, np.ndarray]]
    fast: Callable[..., dict[str, np.ndarray]]
    one: Callable[..., float]


_FAMILIES = {
    "classification": _Family(_prepare_classes, _classification_fast, _one_class),
    "regression": _Family(_prepare_values, lambda y, scores, w, threshold: _regression_fast(y, scores, w), _one_value),
}


def _prepare(kind: str, y_true, outputs) -> tuple[np.ndarray, np.ndarray]:
    return _FAMILIES.get(kind, _FAMILIES["regression"]).prepare(y_true, np.asarray(outputs, dtype=np.float64))


def resampled_metrics(kind: str, y_true, outputs, resamples: int = 1000, seed: int = 0,
                      slow_resamples: int = SLOW_RESAMPLES, metrics: Optional[list[str]] = None,
                      threshold: Optional[float] = None) -> dict[str, np.ndarray]:
    """Every scalar metric of ``kind`` on each bootstrap resample: ``{name: values [B or fewer]}``.

    The same ``seed`` gives the same resamples, which makes two models' values paired.
    ``threshold``: a binary classifier's tuned decision threshold on P(class 1).
    """
    y, scores = _prepare(kind, y_true, outputs)
    n = len(y)
    names = metrics or [m for m in METRICS.names() if kind in _KIND[m]]
    fast_fn = _FAMILIES.get(kind, _FAMILIES["regression"]).fast
    parts: dict[str, list[np.ndarray]] = {m: [] for m in names}
    slow_done = 0
    for w in _chunks(n, resamples, seed):
        fast = fast_fn(y, scores, w, threshold)
        for m in names:
            if m in fast:
                parts[m].append(fast[m])
        slow = [m for m in names if m not in fast]
        take = min(len(w), slow_resamples - slow_done)
        if slow and take > 0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for m in slow:
                    parts[m].append(np.array([_one(kind, m, y, scores, row, threshold) for row in w[:take]]))
            slow_done += take
    return {m: np.concatenate(v) if v else np.empty(0) for m, v in parts.items()}


def _one(kind: str, name: str, y: np.ndarray, scores: np.ndarray, counts: np.ndarray,
         threshold: Optional[float] = None) -> float:
    idx = np.repeat(np.arange(len(y)), counts.astype(np.int64))
    return _FAMILIES.get(kind, _FAMILIES["regression"]).one(name, y, scores, idx, threshold)


def percentile_interval(values: np.ndarray, confidence: float) -> list[float]:
    """The central ``confidence`` interval of ``values`` (NaN resamples ignored)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return [float("nan"), float("nan")]
    alpha = (1.0 - confidence) / 2
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    return [float(lo), float(hi)]


def confidence_intervals(kind: str, y_true, outputs, resamples: int = 1000, confidence: float = 0.95,
                         seed: int = 0, threshold: Optional[float] = None) -> dict[str, list[float]]:
    """Percentile bootstrap interval ``[low, high]`` of every scalar test metric."""
    if resamples <= 0:
        return {}
    dist = resampled_metrics(kind, y_true, outputs, resamples, seed, threshold=threshold)
    return {m: percentile_interval(v, confidence) for m, v in dist.items()}


def paired_bootstrap(kind: str, y_true, outputs_a, outputs_b, metric: str, resamples: int = 1000,
                     confidence: float = 0.95, seed: int = 0) -> dict:
    """Is model A's ``metric`` different from model B's on the *same* test examples?

    Both models are scored on identical resamples; returns the observed difference
    ``A - B``, its interval, and a two-sided bootstrap p-value (twice the smaller share of
    resampled differences on either side of zero).
    """
    a = resampled_metrics(kind, y_true, outputs_a, resamples, seed, metrics=[metric])[metric]
    b = resampled_metrics(kind, y_true, outputs_b, resamples, seed, metrics=[metric])[metric]
    diff = (a - b)[np.isfinite(a - b)]
    y, sa = _prepare(kind, y_true, outputs_a)
    _, sb = _prepare(kind, y_true, outputs_b)
    full = np.ones((1, len(y)))
    observed = _one(kind, metric, y, sa, full[0]) - _one(kind, metric, y, sb, full[0])
    if not len(diff):
        return {"difference": float(observed), "ci": [float("nan")] * 2, "p_value": float("nan")}
    p = 2 * min((diff <= 0).mean(), (diff >= 0).mean())
    return {"difference": float(observed), "ci": percentile_interval(diff, confidence), "p_value": float(min(p, 1.0))}

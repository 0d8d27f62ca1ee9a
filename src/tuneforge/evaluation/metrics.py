"""Metrics: named scikit-learn scores for classification and regression.

Every metric is registered in :data:`METRICS` as a function
``(y_true, y_pred, y_score) -> float``. For classification ``y_pred`` holds class
ids and ``y_score`` the class probabilities ``[N, K]``; for regression ``y_pred``
holds predictions in the target's own units and ``y_score`` is ``None``.
:func:`compute_metrics` turns raw model outputs into one JSON-ready dict.

Example::

    >>> import numpy as np
    >>> m = compute_metrics("classification", np.array([0, 1, 1]),
    ...                     np.array([[2.0, 0.1], [0.3, 1.5], [1.0, 0.2]]), ["neg", "pos"])
    >>> round(m["accuracy"], 3), m["confusion_matrix"]
    (0.667, [[1, 0], [1, 1]])
"""
from __future__ import annotations

import warnings
from typing import Callable, Literal, Optional

import numpy as np
from scipy.special import softmax
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

from ..errors import RecipeError, TrainingError
from ..registry import Registry
from .calibration import expected_calibration_error
from .curves import one_vs_rest_classes

Kind = Literal["classification", "regression"]
MetricFn = Callable[[np.ndarray, np.ndarray, Optional[np.ndarray]], float]

METRICS: Registry[MetricFn] = Registry("metric")
_KIND: dict[str, set[str]] = {}                  # metric name -> the kinds of task it applies to
_DEFAULT = {"classification": "macro_f1", "regression": "r2"}  # monitored when a recipe names none
_LOWER_IS_BETTER = {"log_loss", "ece", "mse", "rmse", "mae", "loss"}  # "loss": the training loss


def _metric(name: str, kind: Kind, description: str) -> Callable[[MetricFn], MetricFn]:
    """Register a metric under ``name`` for one kind of task."""

    def add(fn: MetricFn) -> MetricFn:
        _KIND[name] = {kind}
        return METRICS.register(name, description)(fn)

    return add


def register_metric(name: str, kind: str, description: str, fn: Optional[MetricFn] = None,
                    lower_is_better: bool = False) -> None:
    """Make metric ``name`` available to tasks of ``kind`` (registering ``fn`` when the name is new).

    A task family with its own metric module (e.g. evaluation/multilabel.py) calls this, so the
    metric can be monitored (``evaluate.metric``) and listed (``tuneforge list metrics``).
    """
    if name in _KIND:
        _KIND[name].add(kind)
        return
    _metric(name, kind, description)(fn)
    if lower_is_better:
        _LOWER_IS_BETTER.add(name)


def set_default_metric(kind: str, name: str) -> None:
    _DEFAULT[kind] = name


# -- classification ----------------------------------------------------------------------------
# Averaged scores use scikit-learn's default label set (classes seen in y_true or y_pred), so a
# class absent from an evaluation split neither helps nor hurts the average.

@_metric("accuracy", "classification", "fraction of examples whose predicted class is right")
def accuracy(y_true, y_pred, y_score=None) -> float:
    return float(skm.accuracy_score(y_true, y_pred))


@_metric("balanced_accuracy", "classification", "mean recall over the classes present in y_true")
def balanced_accuracy(y_true, y_pred, y_score=None) -> float:
    return float(skm.balanced_accuracy_score(y_true, y_pred))


@_metric("macro_precision", "classification", "unweighted mean of per-class precision")
def macro_precision(y_true, y_pred, y_score=None) -> float:
    return float(skm.precision_score(y_true, y_pred, average="macro", zero_division=0))


@_metric("macro_recall", "classification", "unweighted mean of per-class recall")
def macro_recall(y_true, y_pred, y_score=None) -> float:
    return float(skm.recall_score(y_true, y_pred, average="macro", zero_division=0))


@_metric("macro_f1", "classification", "unweighted mean of per-class F1 (the default to monitor)")
def macro_f1(y_true, y_pred, y_score=None) -> float:
    return float(skm.f1_score(y_true, y_pred, average="macro", zero_division=0))


@_metric("weighted_f1", "classification", "per-class F1 averaged with class frequency as weight")
def weighted_f1(y_true, y_pred, y_score=None) -> float:
    return float(skm.f1_score(y_true, y_pred, average="weighted", zero_division=0))


@_metric("log_loss", "classification", "cross-entropy of the predicted probabilities (lower is better)")
def log_loss(y_true, y_pred, y_score) -> float:
    if y_score is None:
        raise ValueError("log_loss needs class probabilities (y_score)")
    return float(skm.log_loss(y_true, y_score, labels=np.arange(y_score.shape[1])))


@_metric("roc_auc", "classification", "area under the ROC curve (one-vs-rest, macro over classes)")
def roc_auc(y_true, y_pred, y_score) -> float:
    return _one_vs_rest(skm.roc_auc_score, y_true, y_score)


@_metric("pr_auc", "classification", "area under the precision-recall curve (average precision, macro)")
def pr_auc(y_true, y_pred, y_score) -> float:
    return _one_vs_rest(skm.average_precision_score, y_true, y_score)


@_metric("ece", "classification", "expected calibration error, 15 bins (lower is better)")
def ece(y_true, y_pred, y_score) -> float:
    if y_score is None:
        raise ValueError("ece needs class probabilities (y_score)")
    return expected_calibration_error(y_true, y_score)


def _one_vs_rest(score, y_true, y_score) -> float:
    """Macro mean of ``score`` over the classes with both positives and negatives (NaN if none).

    With every class present this equals scikit-learn's ``multi_class="ovr"``, ``average="macro"``;
    unlike it, a class missing from a small split is skipped instead of raising.
    """
    if y_score is None:
        raise ValueError("one-vs-rest areas need class probabilities (y_score)")
    classes = one_vs_rest_classes(y_true, y_score.shape[1])
    if not classes:
        return float("nan")
    return float(np.mean([score((y_true == c).astype(int), y_score[:, c]) for c in classes]))


# -- regression --------------------------------------------------------------------------------

@_metric("mse", "regression", "mean squared error (lower is better)")
def mse(y_true, y_pred, y_score=None) -> float:
    return float(skm.mean_squared_error(y_true, y_pred))


@_metric("rmse", "regression", "root mean squared error, in target units (lower is better)")
def rmse(y_true, y_pred, y_score=None) -> float:
    return float(skm.root_mean_squared_error(y_true, y_pred))


@_metric("mae", "regression", "mean absolute error, in target units (lower is better)")
def mae(y_true, y_pred, y_score=None) -> float:
    return float(skm.mean_absolute_error(y_true, y_pred))


@_metric("r2", "regression", "coefficient of determination (the default to monitor)")
def r2(y_true, y_pred, y_score=None) -> float:
    return float(skm.r2_score(y_true, y_pred))


# -- queries -----------------------------------------------------------------------------------

def list_metrics(kind: Optional[Kind] = None) -> dict[str, str]:
    """Metric names with their one-line descriptions, optionally only those for ``kind``."""
    if kind is not None and kind not in _DEFAULT:
        raise ValueError(f"kind must be one of {', '.join(sorted(_DEFAULT))}, got {kind!r}")
    return {name: text for name, text in METRICS.describe().items() if kind is None or kind in _KIND[name]}


def default_metric(kind: Kind) -> str:
    """The metric monitored when the recipe names none: ``macro_f1``, ``r2``, ...; one per kind of task."""
    if kind not in _DEFAULT:
        _check_kind(kind)
    return _DEFAULT[kind]


TIE_TOLERANCE = 1e-4   # relative: two validation values this close are equal (docs/evaluation.md, the final model)


def ties(value: float, other: float) -> bool:
    """Whether two values of one metric are a tie: within :data:`TIE_TOLERANCE` x max(1, |other|). No
    validation split measures so small a difference; it comes from arithmetic (a step-0 score computed
    from the solved head's matrix product, a later one from a forward pass, mixed precision)."""
    return abs(value - other) <= TIE_TOLERANCE * max(1.0, abs(other))


def greater_is_better(name: str) -> bool:
    """Whether a larger value of metric ``name`` is better (False for losses and errors).

    ``"loss"`` (the training objective) is accepted too; any other unknown name is a
    :class:`~tuneforge.errors.RecipeError` that lists the known metrics.
    """
    if name not in METRICS and name != "loss":
        raise RecipeError(METRICS.unknown_message(name))
    return name not in _LOWER_IS_BETTER


def _check_kind(kind: str) -> None:
    if kind not in _SCORERS:
        raise ValueError(f"kind must be 'classification' or 'regression', got {kind!r}")


def class_prior_entropy(targets) -> float:
    """The entropy of the class frequencies of ``targets`` (class ids): the cross-entropy of a
    predictor that always answers those frequencies."""
    _, counts = np.unique(np.asarray(targets), return_counts=True)
    share = counts / counts.sum()
    return float(-(share * np.log(share)).sum())


# -- all at once -------------------------------------------------------------------------------

def compute_metrics(kind: Kind, y_true: np.ndarray, outputs: np.ndarray,
                    label_names: Optional[list[str]] = None, threshold: Optional[float] = None) -> dict:
    """Every metric of ``kind`` for one evaluation split, as plain JSON-ready Python values.

    ``outputs`` are logits ``[N, K]`` for classification (turned into probabilities
    here) or predictions ``[N]`` in original units for regression. Classification
    adds ``per_class`` (``{name: {precision, recall, f1, support}}``) and
    ``confusion_matrix`` (``K x K`` list of lists, rows = true class), both covering
    all ``K`` classes even when some are absent from the split. ``threshold`` (binary only): class 1
    is predicted where its probability reaches it (a tuned decision threshold) instead of the argmax.
    """
    _check_kind(kind)
    y_true = np.asarray(y_true)
    outputs = np.asarray(outputs, dtype=np.float64)
    if len(y_true) == 0:
        raise ValueError("cannot compute metrics on an empty split")
    if len(outputs) != len(y_true):
        raise ValueError(f"{len(outputs)} outputs for {len(y_true)} targets")
    bad = int((~np.isfinite(outputs)).reshape(len(outputs), -1).any(axis=1).sum())
    if bad:
        raise TrainingError(f"the model produced non-finite outputs for {bad} of {len(outputs)} examples")

    with warnings.catch_warnings():
        # Degenerate splits (one class, one sample) are expected; their scores follow
        # scikit-learn's conventions (zero_division=0 and so on) without a warning each.
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.simplefilter("ignore", UserWarning)
        return _SCORERS[kind](y_true, outputs, label_names, threshold)


def _classification(y_true: np.ndarray, logits: np.ndarray, label_names: Optional[list[str]],
                    threshold: Optional[float] = None) -> dict:
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(f"classification outputs must be logits [N, K] with K >= 2, got {logits.shape}")
    k = logits.shape[1]
    names = [str(n) for n in label_names] if label_names is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"{len(names)} label names for {k} output columns")
    if y_true.min() < 0 or y_true.max() >= k:
        raise ValueError(f"targets must be class ids in [0, {k}), got range [{y_true.min()}, {y_true.max()}]")
    probs = softmax(logits, axis=1)   # subtracts the row maximum first, so large logits are safe
    y_pred = probs.argmax(axis=1) if threshold is None else (probs[:, 1] >= threshold).astype(np.int64)

    result = {name: fn(y_true, y_pred, probs) for name, fn in _metrics_of("classification")}
    labels = np.arange(k)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    result["per_class"] = {
        names[i]: {"precision": float(precision[i]), "recall": float(recall[i]),
                   "f1": float(f1[i]), "support": int(support[i])}
        for i in range(k)}
    result["confusion_matrix"] = skm.confusion_matrix(y_true, y_pred, labels=labels).tolist()
    return result


def _regression(y_true: np.ndarray, outputs: np.ndarray) -> dict:
    if outputs.shape[1] != 1:
        raise ValueError(f"regression outputs must be one value per example, got {outputs.shape}")
    y_pred = outputs[:, 0]
    return {name: fn(y_true, y_pred, None) for name, fn in _metrics_of("regression")}


def _metrics_of(kind: str):
    return [(name, METRICS.get(name)) for name in METRICS.names() if kind in _KIND[name]]


# the kinds compute_metrics scores itself (multi-label, token and language-model metrics have their own modules)
_SCORERS: dict[str, Callable[..., dict]] = {
    "classification": lambda y, out, names, threshold: _classification(y.astype(np.int64), out, names, threshold),
    "regression": lambda y, out, names, threshold: _regression(y.astype(np.float64), out.reshape(len(out), -1)),
}

"""Baselines that say what fine-tuning bought.

* :func:`linear_probe_baseline`, the "pre-trained baseline": a linear model fitted on
  the frozen pre-trained features (logistic regression or ridge, its strength
  picked by a small cross-validation on the training features).
* :func:`majority_baseline`: the class prior (classification) or the mean
  (regression) of the training targets, the floor any model must clear.

Both return the same metric dicts as :func:`~tuneforge.evaluation.metrics.compute_metrics`.

Example::

    feats, y = extract_features(model, encoded_train, 128)
    test = extract_features(model, encoded_test, 128)
    linear_probe_baseline("classification", feats, y, {"test": test}, label_names)["test"]["macro_f1"]
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .metrics import Kind, _check_kind, compute_metrics

PROBE_CS = (1e-3, 1e-2, 0.1, 1.0, 10.0)   # inverse L2 strengths tried for the logistic probe
RIDGE_ALPHAS = np.logspace(-3, 5, 17)     # L2 strengths tried (leave-one-out) for the ridge probe
CV_FOLDS = 3
_ABSENT_LOGIT = -1e4                      # logit of a class the fitted model never saw


def linear_probe_baseline(kind: Kind, train_features: np.ndarray, train_targets: np.ndarray,
                          eval_sets: dict[str, tuple[np.ndarray, np.ndarray]],
                          label_names: Optional[list[str]] = None, seed: int = 0) -> dict[str, dict]:
    """Fit a linear model on frozen features and score it on each evaluation set.

    Classification: standardised features into ``LogisticRegression`` whose ``C``
    is chosen from :data:`PROBE_CS` by stratified ``CV_FOLDS``-fold cross-validation
    on log-loss (plain ``C=1`` when a class has too few examples to fold). Classes
    missing from the training set get a very negative logit, so they are never
    predicted but still count in the metrics. Regression: standardised features
    into ``RidgeCV`` over :data:`RIDGE_ALPHAS`.

    Returns ``{eval set name: metrics dict}``.
    """
    outputs = linear_probe_outputs(kind, train_features, train_targets, eval_sets, label_names, seed)
    names = label_names if _FAMILIES[kind].named_outputs else None
    return {name: compute_metrics(kind, np.asarray(t), outputs[name], names) for name, (_, t) in eval_sets.items()}


def linear_probe_outputs(kind: Kind, train_features: np.ndarray, train_targets: np.ndarray,
                         eval_sets: dict[str, tuple[np.ndarray, np.ndarray]],
                         label_names: Optional[list[str]] = None, seed: int = 0) -> dict[str, np.ndarray]:
    """The probe of :func:`linear_probe_baseline`, returning its per-example outputs instead of metrics.

    ``{eval set name: logits [N, K] (log-probabilities) or predicted values [N]}``, so a paired
    bootstrap can compare the probe with a fine-tuned model on the same examples.
    """
    _check_kind(kind)
    x = _as_features(train_features)
    y = np.asarray(train_targets)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} training feature rows for {len(y)} targets")
    return _FAMILIES[kind].probe(x, y, eval_sets, label_names, seed)


def majority_baseline(kind: Kind, train_targets: np.ndarray, eval_targets: np.ndarray,
                      num_classes: Optional[int] = None, label_names: Optional[list[str]] = None) -> dict:
    """Metrics of a predictor that ignores its input.

    Classification: always the most frequent training class, with the training
    class frequencies as probabilities (so ``log_loss`` is the prior's). Regression:
    always the training mean. ``num_classes`` defaults to ``len(label_names)`` or to
    the largest class id seen plus one.
    """
    _check_kind(kind)
    eval_targets = np.asarray(eval_targets)
    family = _FAMILIES[kind]
    outputs = family.majority(np.asarray(train_targets), len(eval_targets), num_classes, label_names, [eval_targets])
    return compute_metrics(kind, eval_targets, outputs, label_names if family.named_outputs else None)


def majority_outputs(kind: Kind, train_targets: np.ndarray, n: int, num_classes: Optional[int] = None,
                     label_names: Optional[list[str]] = None) -> np.ndarray:
    """Per-example outputs of :func:`majority_baseline` for ``n`` examples (the same row repeated)."""
    _check_kind(kind)
    return _FAMILIES[kind].majority(np.asarray(train_targets), n, num_classes, label_names, [])


# -- the two families: classes (logistic probe, class prior) and values (ridge probe, mean) ----------

def _probe_classes(x, y, eval_sets, label_names, seed) -> dict[str, np.ndarray]:
    num_classes = _num_classes(label_names, y, [t for _, t in eval_sets.values()])
    model = _fit_probe(x, y.astype(np.int64), seed)
    return {name: _full_logits(model, _as_features(f), num_classes) for name, (f, _) in eval_sets.items()}


def _probe_values(x, y, eval_sets, label_names, seed) -> dict[str, np.ndarray]:
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS)).fit(x, y.astype(np.float64))
    return {name: model.predict(_as_features(f)) for name, (f, _) in eval_sets.items()}


def _majority_classes(y, n, num_classes, label_names, others) -> np.ndarray:
    if num_classes is None:
        num_classes = _num_classes(label_names, y, others)
    model = DummyClassifier(strategy="prior").fit(np.zeros((len(y), 1)), y.astype(np.int64))
    return _full_logits(model, np.zeros((n, 1)), num_classes)


def _majority_values(y, n, num_classes, label_names, others) -> np.ndarray:
    return np.full(n, float(np.mean(y.astype(np.float64))))   # what DummyRegressor(strategy="mean") predicts


@dataclass(frozen=True)
class _Family:
    probe: Callable[..., dict[str, np.ndarray]]
    majority: Callable[..., np.ndarray]
    named_outputs: bool   # whether the metrics take the label names (per-class tables)


_FAMILIES = {"classification": _Family(_probe_classes, _majority_classes, True),
             "regression": _Family(_probe_values, _majority_values, False)}


def fit_linear_probe(features: np.ndarray, targets: np.ndarray, num_classes: int, seed: int = 0):
    """A fitted classification probe as a function ``features -> logits [N, num_classes]``.

    The same model as :func:`linear_probe_baseline`, returned so it can score *other*
    features later (retention: a probe fitted on pre-trained features, applied to fine-tuned ones).
    """
    model = _fit_probe(_as_features(features), np.asarray(targets).astype(np.int64), seed)
    return lambda f: _full_logits(model, _as_features(f), num_classes)


# -- helpers -----------------------------------------------------------------------------------

def _fit_probe(x: np.ndarray, y: np.ndarray, seed: int):
    """Standardise + logistic regression, ``C`` by cross-validation when the data allow it."""
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:   # nothing to separate: predict the one class seen
        return DummyClassifier(strategy="prior").fit(x, y)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if counts.min() < CV_FOLDS:
            return probe.set_params(logisticregression__C=1.0).fit(x, y)
        search = GridSearchCV(probe, {"logisticregression__C": list(PROBE_CS)}, scoring="neg_log_loss",
                              cv=StratifiedKFold(CV_FOLDS, shuffle=True, random_state=seed), refit=True)
        return search.fit(x, y).best_estimator_


def _full_logits(model, x: np.ndarray, num_classes: int) -> np.ndarray:
    """Log-probabilities ``[N, num_classes]`` with ``_ABSENT_LOGIT`` for classes ``model`` never saw.

    ``softmax(log p) == p``, so these work as logits in :func:`compute_metrics`.
    """
    probs = model.predict_proba(x)
    logits = np.full((len(x), num_classes), _ABSENT_LOGIT, dtype=np.float64)
    logits[:, np.asarray(model.classes_, dtype=np.int64)] = np.log(np.maximum(probs, np.finfo(np.float64).tiny))
    return logits


def _num_classes(label_names: Optional[list[str]], train_targets: np.ndarray, others: list) -> int:
    if label_names is not None:
        return len(label_names)
    seen = [int(np.max(t)) for t in [train_targets, *others] if len(t)]
    return max(max(seen, default=0) + 1, 2)


def _as_features(features) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be a 2-d array [N, D], got shape {x.shape}")
    return x

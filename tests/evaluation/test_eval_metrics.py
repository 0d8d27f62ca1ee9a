"""Metrics agree with scikit-learn, cover every class, and serialise to JSON."""
import json
import warnings

import numpy as np
import pytest
from scipy.special import softmax
from sklearn import metrics as skm

from tuneforge.errors import RecipeError, TrainingError
from tuneforge.evaluation import (METRICS, compute_metrics, default_metric, greater_is_better,
                                  list_metrics)

# Four classes; class 3 is never predicted, class 2 is predicted but absent from y_true.
Y_TRUE = np.array([0, 0, 1, 1, 1, 3, 3, 0, 1, 3])
LOGITS = np.array([
    [3.0, 0.1, 0.2, 0.0], [0.2, 2.0, 0.1, 0.0], [0.1, 2.5, 0.3, 0.0], [0.0, 0.4, 1.9, 0.1],
    [0.2, 3.0, 0.1, 0.0], [2.0, 0.1, 0.1, 1.5], [0.1, 0.1, 2.2, 1.0], [1.5, 0.2, 0.2, 0.1],
    [0.3, 1.1, 0.1, 0.2], [0.1, 1.2, 0.1, 1.0]])
NAMES = ["cat", "dog", "fox", "owl"]


def _sklearn_reference(y_true, logits):
    probs = softmax(logits.astype(np.float64), axis=1)
    y_pred = probs.argmax(1)
    return {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y_true, y_pred),
        "macro_precision": skm.precision_score(y_true, y_pred, average="macro", zero_division=0),
        "macro_recall": skm.recall_score(y_true, y_pred, average="macro", zero_division=0),
        "macro_f1": skm.f1_score(y_true, y_pred, average="macro", zero_division=0),
        "weighted_f1": skm.f1_score(y_true, y_pred, average="weighted", zero_division=0),
        "log_loss": skm.log_loss(y_true, probs, labels=np.arange(logits.shape[1])),
    }


@pytest.mark.parametrize("y_true, logits", [
    (Y_TRUE, LOGITS),
    (np.array([0, 1, 1, 0, 1]), np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 0.5], [0.2, 0.1], [0.0, 1.0]])),
], ids=["multiclass-with-absent-classes", "binary"])
def test_classification_metrics_equal_sklearn(y_true, logits):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _sklearn_reference(y_true, logits)
    got = compute_metrics("classification", y_true, logits)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-12), name
    # the ranking areas and ECE are checked against scikit-learn / by hand in test_eval_curves.py
    assert set(list_metrics("classification")) == set(expected) | {"roc_auc", "pr_auc", "ece"}


def test_per_class_and_confusion_matrix_cover_all_classes():
    got = compute_metrics("classification", Y_TRUE, LOGITS, NAMES)
    y_pred = LOGITS.argmax(1)
    cm = got["confusion_matrix"]
    assert cm == skm.confusion_matrix(Y_TRUE, y_pred, labels=range(4)).tolist()
    assert len(cm) == 4 and all(len(row) == 4 for row in cm)
    assert sum(cm[2]) == 0                     # "fox" never occurs, yet has a row
    assert list(got["per_class"]) == NAMES
    p, r, f, s = skm.precision_recall_fscore_support(Y_TRUE, y_pred, labels=range(4), zero_division=0)
    for i, name in enumerate(NAMES):
        assert got["per_class"][name] == pytest.approx(
            {"precision": p[i], "recall": r[i], "f1": f[i], "support": s[i]})
    assert got["per_class"]["owl"]["recall"] == 0.0   # never predicted


def test_output_is_plain_json():
    got = compute_metrics("classification", Y_TRUE, LOGITS.astype(np.float32), NAMES)
    again = json.loads(json.dumps(got, allow_nan=False))
    assert again == got
    for name in list_metrics("classification"):
        assert type(got[name]) is float
    assert type(got["per_class"]["cat"]["support"]) is int


def test_one_class_present_gives_no_warnings():
    y = np.zeros(5, dtype=np.int64)
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [3.0, 0.0, 0.0], [1.0, 0.0, 2.0], [1.0, 0.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = compute_metrics("classification", y, logits)
    assert got["accuracy"] == pytest.approx(0.6)
    assert len(got["confusion_matrix"]) == 3
    assert np.isfinite(got["log_loss"])


def test_softmax_is_stable_for_huge_logits():
    logits = np.array([[1000.0, 0.0], [0.0, 1e4]])
    got = compute_metrics("classification", np.array([0, 1]), logits)
    assert got["accuracy"] == 1.0 and got["log_loss"] == pytest.approx(0.0, abs=1e-9)


def test_regression_metrics_equal_sklearn():
    y = np.array([1.0, 2.5, -0.5, 4.0, 3.0])
    pred = np.array([1.2, 2.0, 0.0, 3.5, 3.3], dtype=np.float32)
    got = compute_metrics("regression", y, pred)
    pred64 = pred.astype(np.float64)
    assert got["mse"] == pytest.approx(skm.mean_squared_error(y, pred64))
    assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(y, pred64))
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, pred64))
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred64))
    assert set(got) == set(list_metrics("regression")) == {"mse", "rmse", "mae", "r2"}
    json.dumps(got, allow_nan=False)


def test_registered_functions_have_the_common_signature():
    fn = METRICS.get("macro_f1")
    assert fn(np.array([0, 1]), np.array([0, 1]), None) == 1.0
    assert all(METRICS.describe().values())


def test_direction_and_defaults():
    assert default_metric("classification") == "macro_f1"
    assert default_metric("regression") == "r2"
    for name in ("mse", "rmse", "mae", "log_loss", "loss"):
        assert greater_is_better(name) is False
    for name in ("accuracy", "macro_f1", "r2", "balanced_accuracy"):
        assert greater_is_better(name) is True
    with pytest.raises(RecipeError, match="did you mean"):
        greater_is_better("macro_f")
    # every metric belongs to a kind of task (multi-label metrics came with the text-multilabel task)
    from tuneforge.evaluation import metrics as registry
    kinds = set(registry._DEFAULT)          # every kind a task family registered (its default metric)
    assert {"classification", "regression", "multilabel"} <= kinds
    assert set(list_metrics()) == set().union(*(set(list_metrics(k)) for k in kinds))


def test_bad_inputs():
    with pytest.raises(TrainingError, match="non-finite"):
        compute_metrics("classification", np.array([0, 1]), np.array([[0.0, np.nan], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="label names"):
        compute_metrics("classification", Y_TRUE, LOGITS, ["a", "b"])
    with pytest.raises(ValueError, match="kind"):
        compute_metrics("ranking", Y_TRUE, LOGITS)

"""ROC / PR areas and curves against scikit-learn, and the hand-written ECE on known cases."""
import numpy as np
import pytest
from scipy.special import softmax
from sklearn import metrics as skm

from tuneforge.evaluation import compute_metrics
from tuneforge.evaluation.calibration import expected_calibration_error, reliability
from tuneforge.evaluation.curves import classification_curves


def _case(k, n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.0
    return y, logits, softmax(logits, axis=1)


def test_multiclass_areas_equal_sklearn_one_vs_rest_macro():
    y, logits, probs = _case(4)
    m = compute_metrics("classification", y, logits)
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, probs, multi_class="ovr", average="macro"))
    onehot = np.eye(4)[y]
    assert m["pr_auc"] == pytest.approx(skm.average_precision_score(onehot, probs, average="macro"))


def test_binary_areas_use_the_positive_class_and_curves_are_small():
    y, logits, probs = _case(2, n=500)
    m = compute_metrics("classification", y, logits, ["neg", "pos"])
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, probs[:, 1]))
    curves = classification_curves(y, probs, ["neg", "pos"], max_points=50)
    assert list(curves["roc"]) == ["pos"]
    roc = curves["roc"]["pos"]
    assert len(roc["fpr"]) <= 50 and roc["fpr"][0] == 0 and roc["tpr"][-1] == 1
    assert roc["auc"] == pytest.approx(m["roc_auc"])


def test_area_of_a_split_with_one_class_is_nan_not_an_error():
    m = compute_metrics("classification", np.zeros(5, dtype=int), np.random.default_rng(0).normal(size=(5, 3)))
    assert np.isnan(m["roc_auc"]) and np.isnan(m["pr_auc"])


def test_ece_zero_when_calibrated_and_equal_to_the_gap_when_overconfident():
    # 10 examples at confidence 0.7, 7 right: perfectly calibrated
    probs = np.tile([0.7, 0.3], (10, 1))
    y = np.array([0] * 7 + [1] * 3)
    assert expected_calibration_error(y, probs) == pytest.approx(0.0)
    # always 0.95 sure but right half the time: gap 0.45
    probs = np.tile([0.95, 0.05], (10, 1))
    y = np.array([0, 1] * 5)
    assert expected_calibration_error(y, probs) == pytest.approx(0.45)
    points = reliability(y, probs)
    assert points == {"confidence": [0.95], "accuracy": [0.5], "count": [10]}

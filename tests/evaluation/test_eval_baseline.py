"""The linear probe and majority baselines."""
import json
import warnings

import numpy as np
import pytest

from tuneforge.evaluation import linear_probe_baseline, majority_baseline


def blobs(n, num_classes, dim=16, seed=0, classes=None):
    """Well separated Gaussian clusters, one per class."""
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(123).normal(size=(num_classes, dim)) * 3
    y = rng.choice(classes if classes is not None else num_classes, size=n)
    return centers[y] + rng.normal(size=(n, dim)), y


def test_probe_beats_majority_on_separable_data():
    x, y = blobs(300, 4)
    xv, yv = blobs(120, 4, seed=1)
    xt, yt = blobs(120, 4, seed=2)
    names = ["a", "b", "c", "d"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        probe = linear_probe_baseline("classification", x, y, {"validation": (xv, yv), "test": (xt, yt)}, names)
    majority = majority_baseline("classification", y, yt, num_classes=4, label_names=names)
    assert set(probe) == {"validation", "test"}
    assert probe["test"]["macro_f1"] > 0.95 > majority["macro_f1"] + 0.5
    assert probe["test"]["log_loss"] < majority["log_loss"]
    assert list(probe["test"]["per_class"]) == names
    json.dumps(probe, allow_nan=False)


def test_class_missing_from_train_is_handled():
    x, y = blobs(200, 3, classes=[0, 2])   # class 1 never seen in training
    xt, yt = blobs(90, 3, seed=3)           # ...but present at test time
    got = linear_probe_baseline("classification", x, y, {"test": (xt, yt)}, ["x", "y", "z"])["test"]
    cm = np.array(got["confusion_matrix"])
    assert cm.shape == (3, 3)
    assert cm[:, 1].sum() == 0              # never predicted
    assert got["per_class"]["y"]["support"] == (yt == 1).sum()
    assert np.isfinite(got["log_loss"])
    assert got["per_class"]["x"]["recall"] > 0.9 and got["per_class"]["z"]["recall"] > 0.9


def test_tiny_and_single_class_training_sets():
    x, y = blobs(5, 3)
    y = np.array([0, 0, 1, 2, 2])            # too few per class to cross-validate
    got = linear_probe_baseline("classification", x, y, {"t": (x, y)})["t"]
    assert len(got["confusion_matrix"]) == 3
    one = linear_probe_baseline("classification", x, np.zeros(5, dtype=int), {"t": (x, y)}, ["p", "q", "r"])["t"]
    assert one["accuracy"] == pytest.approx(0.4)


def test_regression_probe_recovers_a_linear_target():
    rng = np.random.default_rng(0)
    w = rng.normal(size=32)
    x = rng.normal(size=(400, 32))
    xt = rng.normal(size=(100, 32))
    y = x @ w * 10 + 50 + rng.normal(scale=0.5, size=400)
    yt = xt @ w * 10 + 50
    got = linear_probe_baseline("regression", x, y, {"test": (xt, yt)})["test"]
    assert got["r2"] > 0.95
    mean = majority_baseline("regression", y, yt, num_classes=None)
    assert mean["r2"] < 0.05 and mean["rmse"] > got["rmse"]


def test_majority_predicts_most_frequent_class():
    got = majority_baseline("classification", np.array([2, 2, 1, 0, 2]), np.array([2, 0, 1, 2]), num_classes=4)
    assert got["accuracy"] == 0.5
    assert [row[2] for row in got["confusion_matrix"]] == [1, 1, 2, 0]
    assert len(got["confusion_matrix"]) == 4

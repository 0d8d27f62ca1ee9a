"""Bootstrap intervals: the vectorised formulas equal scikit-learn, intervals cover at the nominal rate."""
import time

import numpy as np
import pytest
from scipy.special import softmax

from tuneforge.evaluation import METRICS
from tuneforge.evaluation.bootstrap import (_chunks, confidence_intervals, paired_bootstrap,
                                            resampled_metrics)


def _data(n=300, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.0
    logits[:20] = logits[:20].round(0)   # some tied scores
    return y, logits


@pytest.mark.parametrize("k", [2, 4])
def test_vectorised_resamples_equal_sklearn_on_the_same_resamples(k):
    y, logits = _data(k=k)
    dist = resampled_metrics("classification", y, logits, resamples=5, seed=3)
    probs = softmax(logits, axis=1)
    for b, counts in enumerate(next(_chunks(len(y), 5, 3))):
        idx = np.repeat(np.arange(len(y)), counts.astype(int))
        for name in dist:
            expected = METRICS.get(name)(y[idx], probs[idx].argmax(1), probs[idx])
            assert dist[name][b] == pytest.approx(expected, rel=1e-6, abs=1e-9), name


def test_regression_resamples_equal_sklearn():
    rng = np.random.default_rng(1)
    y = rng.normal(size=200)
    pred = y + rng.normal(size=200) * 0.3
    dist = resampled_metrics("regression", y, pred, resamples=3, seed=2)
    for b, counts in enumerate(next(_chunks(200, 3, 2))):
        idx = np.repeat(np.arange(200), counts.astype(int))
        for name in ("mse", "rmse", "mae", "r2"):
            assert dist[name][b] == pytest.approx(METRICS.get(name)(y[idx], pred[idx], None), rel=1e-9)


def test_intervals_cover_the_true_accuracy_at_about_the_nominal_rate():
    rng = np.random.default_rng(0)
    true_acc, n, trials, hits = 0.8, 150, 160, 0
    for t in range(trials):
        y = np.zeros(n, dtype=int)
        correct = rng.random(n) < true_acc
        logits = np.where(correct[:, None], [[1.0, 0.0]], [[0.0, 1.0]])
        lo, hi = confidence_intervals("classification", y, logits, resamples=300, seed=t)["accuracy"]
        hits += lo <= true_acc <= hi
    assert 0.88 <= hits / trials <= 0.99


def test_thousand_resamples_of_thousand_examples_is_fast():
    y, logits = _data(n=1000, k=5)
    start = time.perf_counter()
    ci = confidence_intervals("classification", y, logits, resamples=1000)
    assert time.perf_counter() - start < 10          # a few seconds at most, even on a busy machine
    assert set(ci) >= {"accuracy", "macro_f1", "roc_auc", "pr_auc", "ece", "log_loss"}
    for lo, hi in ci.values():
        assert lo <= hi


def test_paired_bootstrap_separates_a_better_model_and_not_a_copy():
    y, logits = _data(n=400)
    noisy = logits + np.random.default_rng(5).normal(size=logits.shape) * 3
    better = paired_bootstrap("classification", y, logits, noisy, "accuracy", resamples=500)
    assert better["difference"] > 0 and better["p_value"] < 0.01 and better["ci"][0] > 0
    same = paired_bootstrap("classification", y, logits, logits.copy(), "accuracy", resamples=200)
    assert same["difference"] == 0 and same["p_value"] == 1.0

"""Expected calibration error: does a model that says "90 % sure" turn out right 90 % of the time?

scikit-learn has no ECE, so it is written here with numpy in a few lines. Examples are
put into ``n_bins`` equal-width bins by their top-class confidence; ECE is the
example-weighted mean gap between each bin's accuracy and its mean confidence:
``ECE = sum_b (n_b / N) * |acc_b - conf_b|``.

Example::

    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]])
    >>> round(expected_calibration_error(np.array([0, 1, 1]), probs), 3)
    0.333
"""
from __future__ import annotations

import numpy as np

N_BINS = 15


def confidence_bins(probs: np.ndarray, n_bins: int = N_BINS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bin id, top-class confidence, predicted class) of every example; bins are ``(lo, hi]``."""
    probs = np.asarray(probs, dtype=np.float64)
    confidence = probs.max(axis=1)
    bins = np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    return bins, confidence, probs.argmax(axis=1)


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, n_bins: int = N_BINS) -> float:
    """Top-label ECE of class probabilities ``probs [N, K]`` against class ids ``y_true``."""
    bins, confidence, pred = confidence_bins(probs, n_bins)
    correct = (pred == np.asarray(y_true)).astype(np.float64)
    count = np.bincount(bins, minlength=n_bins)
    gap = np.bincount(bins, weights=correct - confidence, minlength=n_bins)  # sum of (acc - conf) per bin
    return float(np.abs(gap).sum() / max(len(confidence), 1)) if count.sum() else float("nan")


def reliability(y_true: np.ndarray, probs: np.ndarray, n_bins: int = N_BINS) -> dict:
    """Per non-empty bin: mean confidence, accuracy and count (the reliability diagram's points)."""
    bins, confidence, pred = confidence_bins(probs, n_bins)
    correct = (pred == np.asarray(y_true)).astype(np.float64)
    count = np.bincount(bins, minlength=n_bins)
    keep = count > 0
    mean_conf = np.bincount(bins, weights=confidence, minlength=n_bins)[keep] / count[keep]
    acc = np.bincount(bins, weights=correct, minlength=n_bins)[keep] / count[keep]
    return {"confidence": np.round(mean_conf, 4).tolist(), "accuracy": np.round(acc, 4).tolist(),
            "count": count[keep].astype(int).tolist()}

"""Where a classifier goes most wrong: its highest-loss test examples and its most confused class pairs.

fastai users look at these first after training (``plot_top_losses``, ``most_confused``): the
examples the model is most confidently wrong about show label noise, ambiguous classes and
inputs unlike the training data far faster than any aggregate metric. Both are computed from
the saved test outputs (logits), so they cost nothing extra.

Example::

    rows = top_losses(targets, logits, label_names, n=8)
    rows[0]   # {"index": 17, "label": "negative", "predicted": "positive", "p_label": 0.02, "loss": 3.9, ...}
    most_confused(targets, logits, label_names)   # [{"label": "neutral", "predicted": "positive", "count": 31}, ...]
"""
from __future__ import annotations

from typing import Optional

import numpy as np


def _log_probs(logits) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def predictions(logits, threshold: Optional[float] = None) -> np.ndarray:
    """Predicted class ids: argmax, or for two classes P(second class) >= ``threshold`` when one was tuned."""
    logp = _log_probs(logits)
    if threshold is not None and logp.shape[1] == 2:
        return (np.exp(logp[:, 1]) >= threshold).astype(np.int64)
    return logp.argmax(axis=1)


def top_losses(targets, logits, label_names: Optional[list[str]], n: int = 8,
               threshold: Optional[float] = None) -> list[dict]:
    """The ``n`` test examples with the highest cross-entropy loss, highest first.

    Each row: ``index`` (in the test split), ``label`` and ``predicted`` (class names),
    ``p_label`` (the probability the model gave the true class), ``p_predicted``, ``loss``
    (``-log p_label``, the loss the model was trained on, without class weights).
    """
    y = np.asarray(targets, dtype=np.int64)
    if n <= 0 or len(y) == 0:
        return []
    logp = _log_probs(logits)
    loss = -logp[np.arange(len(y)), y]
    pred = predictions(logits, threshold)
    names = label_names or [str(i) for i in range(logp.shape[1])]
    order = np.argsort(-loss, kind="stable")[:n]
    return [{"index": int(i), "label": names[y[i]], "predicted": names[pred[i]],
             "p_label": round(float(np.exp(logp[i, y[i]])), 4), "p_predicted": round(float(np.exp(logp[i, pred[i]])), 4),
             "loss": round(float(loss[i]), 4)} for i in order]


def most_confused(targets, logits, label_names: Optional[list[str]], min_count: int = 1, n: int = 10,
                  threshold: Optional[float] = None) -> list[dict]:
    """Off-diagonal cells of the confusion matrix, largest first: ``{label, predicted, count, share}``
    where ``share`` is the fraction of that true class's test examples sent to ``predicted``."""
    y = np.asarray(targets, dtype=np.int64)
    pred = predictions(logits, threshold)
    k = np.asarray(logits).shape[1]
    names = label_names or [str(i) for i in range(k)]
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (y, pred), 1)
    per_class = counts.sum(axis=1)
    cells = [(int(counts[a, b]), a, b) for a in range(k) for b in range(k) if a != b and counts[a, b] >= min_count]
    cells.sort(key=lambda c: (-c[0], c[1], c[2]))
    return [{"label": names[a], "predicted": names[b], "count": c, "share": round(c / per_class[a], 4)}
            for c, a, b in cells[:n]]

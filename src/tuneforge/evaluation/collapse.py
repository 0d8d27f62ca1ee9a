"""What collapsed predictions look like, per task family: the majority class, the mean, the label priors.

A fine-tuned model whose learning rate was too high, or whose training was too short, often falls
back on the cheapest answer its loss allows: one class for every input (classification), about the
mean value (regression), one label set for every row (multi-label). :func:`collapse_of` recognises
that from the test targets and outputs and says it in words; the ``collapsed`` diagnostic
(:mod:`tuneforge.evaluation.diagnostics`) adds the likely cause and what to try.

Example::

    collapse_of("classification", y, logits, ["neg", "pos"])
    # "97% of the predictions are the class 'neg', which is 60% of the true labels"
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

COLLAPSE_SHARE = 0.95
COLLAPSE_TRUE_SHARE = 0.85
CONSTANT_SPREAD = 0.05


def _class_collapse(y: np.ndarray, out: np.ndarray, names) -> Optional[str]:
    """One class for every prediction, or for at least COLLAPSE_SHARE of them while at most
    COLLAPSE_TRUE_SHARE of the (varied) true labels are that class: the majority class."""
    pred = out.argmax(1)
    values, counts = np.unique(pred, return_counts=True)
    top = int(values[counts.argmax()])
    share, true_share = counts.max() / len(pred), float(np.mean(y == top))
    several = len(np.unique(y)) >= 2
    if not several or not (len(values) == 1 or (share >= COLLAPSE_SHARE and true_share <= COLLAPSE_TRUE_SHARE)):
        return None
    name = names[top] if names and top < len(names) else str(top)
    return f"{share:.0%} of the predictions are the class '{name}', which is {true_share:.0%} of the true labels"


def _value_collapse(y: np.ndarray, out: np.ndarray, names) -> Optional[str]:
    """Predictions that spread less than CONSTANT_SPREAD x the targets' spread: about the mean."""
    spread, target_spread = float(np.std(out.reshape(len(out)))), float(np.std(y))
    if target_spread <= 0 or spread >= CONSTANT_SPREAD * target_spread:
        return None
    return (f"the predictions hardly vary (std {spread:.4g} against the targets' {target_spread:.4g}): "
            "the model predicts about the same value for every input")


def _multilabel_collapse(y: np.ndarray, logits: np.ndarray, names) -> Optional[str]:
    """One label set (at probability 0.5) for at least COLLAPSE_SHARE of the rows, while the true
    label sets vary and at most COLLAPSE_TRUE_SHARE of them are that set: the label priors."""
    pred = logits > 0
    sets, counts = np.unique(pred, axis=0, return_counts=True)
    top = sets[counts.argmax()]
    share = counts.max() / len(pred)
    true_share = float(np.all((y > 0.5) == top[None, :], axis=1).mean())
    if len(np.unique(y > 0.5, axis=0)) < 2 or share < COLLAPSE_SHARE or true_share > COLLAPSE_TRUE_SHARE:
        return None
    labels = [str(names[i]) if names and i < len(names) else str(i) for i in np.flatnonzero(top)]
    return (f"{share:.0%} of the predictions are the label set {{{', '.join(labels)}}}, which is "
            f"{true_share:.0%} of the true label sets")


_COLLAPSES: dict[str, Callable[[np.ndarray, np.ndarray, Optional[list[str]]], Optional[str]]] = {
    "classification": _class_collapse, "regression": _value_collapse, "multilabel": _multilabel_collapse}


def collapse_of(kind: str, y: np.ndarray, outputs: np.ndarray, names) -> Optional[str]:
    """How the predictions of a task of metric kind ``kind`` collapsed, in words; None when they did not, or
    for kinds without a collapse test (token tags, language models)."""
    collapse = _COLLAPSES.get(kind)
    return None if collapse is None else collapse(y, outputs, names)

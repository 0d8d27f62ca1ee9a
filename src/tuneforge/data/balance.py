"""Class imbalance: measure it, and decide how training handles it (``train.class_balance``).

* **Measured**: the task counts examples per class (per label for multi-label) in each split;
  the counts go to the terminal, ``metrics.json`` (``data.class_counts``) and the report.
* **Handled** by ``train.class_balance``:

  - ``none``: plain loss, plain shuffled batches;
  - ``weights``: class-weighted loss, weight ``N / (K * n_c)`` for class ``c`` (inverse frequency,
    normalised so that the weights average 1 over the training examples; the task's loss applies
    them, e.g. ``cross_entropy(weight=...)``);
  - ``sampling``: each epoch draws every class equally often (:func:`balanced_rows`, a pure
    function of (seed, epoch), so a resumed run sees the same batches);
  - ``auto`` (default): ``weights`` when the largest class has more than :data:`AUTO_RATIO` times
    the examples of the smallest, else ``none`` (always ``none`` for a task without class weights).

  Which one was chosen, and why, is printed with the plan and stored in ``plan.json`` and
  ``metrics.json`` (``class_balance``).

Example::

    balance = ClassBalance.resolve(task, "auto", train_targets, label_names)
    balance.choice, balance.reason    # ('weights', 'auto: largest/smallest class 9.0 > 3')
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import RecipeError

AUTO_RATIO = 3.0   # auto weights the loss when the largest class is more than 3x the smallest


def imbalance_ratio(counts: dict[str, int]) -> Optional[float]:
    """Largest over smallest class count among the classes that occur (None without two such classes)."""
    present = [n for n in counts.values() if n > 0]
    return max(present) / min(present) if len(present) >= 2 else None


def inverse_frequency_weights(counts: np.ndarray) -> np.ndarray:
    """``N / (K * n_c)`` per class over the K classes that occur (0 for a class with no example),
    so that ``sum_c n_c * w_c == N``: the weights average 1 over the training examples.

    >>> inverse_frequency_weights(np.array([30, 10])).tolist()
    [0.6666666666666666, 2.0]
    """
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    weights = np.zeros_like(counts)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


def balanced_rows(classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``len(classes)`` row indices, shuffled, with every class drawn equally often (the remainder
    going to randomly chosen classes). Within a class the rows come from successive shuffles of
    that class, so every row appears before any repeats; a large class is under-sampled."""
    classes = np.asarray(classes)
    kinds = np.unique(classes)
    n = len(classes)
    share = np.full(len(kinds), n // len(kinds))
    share[rng.permutation(len(kinds))[: n % len(kinds)]] += 1
    picks = []
    for kind, k in zip(kinds, share):
        rows = np.flatnonzero(classes == kind)
        repeats = -(-k // len(rows))
        picks.append(np.concatenate([rng.permutation(rows) for _ in range(repeats)])[:k])
    order = np.concatenate(picks)
    return order[rng.permutation(n)]


@dataclass
class ClassBalance:
    """What training does about class imbalance (see the module docstring)."""

    choice: str                              # none | weights | sampling
    reason: str                              # why, in words
    weights: Optional[np.ndarray] = None     # per-output loss weights (choice == weights)
    classes: Optional[np.ndarray] = None     # per-row class ids to sample evenly (choice == sampling)
    ratio: Optional[float] = None

    @classmethod
    def resolve(cls, task, option: str, train_targets: np.ndarray, label_names) -> "ClassBalance":
        counts = None if train_targets is None else task.class_counts(train_targets, label_names)
        if counts is None:
            if option in ("weights", "sampling"):
                raise RecipeError(f"train.class_balance: {option!r} needs a task with classes; {task.name} has "
                                  "none (use none or auto)")
            return cls("none", "the task has no classes" if train_targets is not None else "no targets known")
        ratio = imbalance_ratio(counts)
        supported = task.class_balance_choices
        if option in ("weights", "sampling") and option not in supported:
            raise RecipeError(f"train.class_balance: {task.name} supports "
                              f"{', '.join(('none', 'auto') + supported)}, not {option!r}")
        if option == "auto":
            if "weights" not in supported:
                return cls("none", f"auto: {task.name} does not weight its loss by class", ratio=ratio)
            if ratio is None or ratio <= AUTO_RATIO:
                return cls("none", "auto: " + (f"largest/smallest class {ratio:.1f} <= {AUTO_RATIO:g}"
                                               if ratio is not None else "fewer than two classes occur"), ratio=ratio)
            option, why = "weights", f"auto: largest/smallest class {ratio:.1f} > {AUTO_RATIO:g}"
        else:
            why = "train.class_balance: " + option
        if option == "weights":
            return cls("weights", why, weights=task.loss_weights(train_targets, label_names), ratio=ratio)
        if option == "sampling":
            return cls("sampling", why, classes=task.stratify_key(train_targets), ratio=ratio)
        return cls("none", why, ratio=ratio)

    def describe(self) -> dict:
        out = {"choice": self.choice, "reason": self.reason, "imbalance_ratio": self.ratio}
        if self.weights is not None:
            out["weights"] = [float(w) for w in self.weights]
        return out


def split_class_counts(task, data) -> Optional[dict[str, dict[str, int]]]:
    """``{split: {class: examples}}`` of a :class:`~tuneforge.data.bundle.DataBundle` (None: no classes)."""
    out = {}
    for name in ("train", "validation", "test"):
        split = getattr(data, name)
        if split is not None:
            counts = task.class_counts(split.targets, data.label_names)
            if counts is None:
                return None
            out[name] = counts
    return out


def counts_line(counts: dict[str, int], limit: int = 12) -> str:
    """``"negative 120, positive 30 (largest/smallest 4.0)"`` for the terminal."""
    items = sorted(counts.items(), key=lambda kv: -kv[1])
    shown = ", ".join(f"{k} {v}" for k, v in items[:limit]) + (f", ... ({len(items)} classes)" if len(items) > limit
                                                                else "")
    ratio = imbalance_ratio(counts)
    return shown + (f" (largest/smallest {ratio:.1f})" if ratio is not None else "")

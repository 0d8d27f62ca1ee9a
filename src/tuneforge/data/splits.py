"""Seeded, stratified hold-out splits and subsets.

Classification splits keep each class's share (scikit-learn's ``train_test_split``
with ``stratify``); regression splits are plain random. The same seed always gives
the same indices, which come back sorted.

Example::

    keep, held = stratified_split(labels, len(labels), 0.2, seed=42)
    idx = stratified_subset(labels, len(labels), max_samples=500, seed=42)
"""
from __future__ import annotations

from collections import Counter
from typing import Optional, Sequence

import numpy as np
from sklearn.model_selection import train_test_split

from ..errors import DataError


def _name(label, label_names: Optional[Sequence[str]]) -> str:
    if label_names is not None and isinstance(label, (int, np.integer)) and 0 <= label < len(label_names):
        return str(label_names[label])
    return str(label)


def stratified_split(labels_or_none, n: int, fraction: float | int, seed: int, *,
                     label_names: Optional[Sequence[str]] = None,
                     what: str = "a held-out split") -> tuple[np.ndarray, np.ndarray]:
    """(keep, held): ``fraction`` of the ``n`` rows held out (an int is a row count), stratified by labels.

    ``label_names`` (class id -> name) and ``what`` only make error messages clearer.
    """
    held_n = int(fraction) if isinstance(fraction, (int, np.integer)) else int(round(fraction * n))
    if held_n < 1 or held_n >= n:
        raise DataError(f"cannot hold out {what} of {fraction} from {n} rows ({held_n} rows); "
                        "use a larger data set, another fraction, or a separate file")
    idx = np.arange(n)
    stratify = None
    if labels_or_none is not None:
        labels = np.asarray(labels_or_none)
        counts = Counter(labels.tolist())
        rare = sorted((c, k) for k, c in counts.items() if c < 2)
        if rare:
            count, label = rare[0]
            raise DataError(f"class {_name(label, label_names)!r} has only {count} example(s), too few to hold out "
                            f"{what} stratified by class; drop that class, add examples, or give a separate "
                            "validation/test file")
        if held_n < len(counts) or n - held_n < len(counts):
            raise DataError(f"{what} of {held_n} rows cannot contain all {len(counts)} classes; "
                            "use a larger fraction or give a separate file")
        stratify = labels
    keep, held = train_test_split(idx, test_size=held_n, stratify=stratify, random_state=seed % (2**32))
    return np.sort(keep), np.sort(held)


def stratified_subset(labels_or_none, n: int, max_samples: int, seed: int) -> np.ndarray:
    """Sorted indices of at most ``max_samples`` rows, keeping class shares (random for regression).

    Every class keeps at least one row when ``max_samples`` allows it.
    """
    if max_samples >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    if labels_or_none is None:
        return np.sort(rng.choice(n, size=max_samples, replace=False))
    labels = np.asarray(labels_or_none)
    classes, inverse = np.unique(labels, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(classes))
    exact = counts * (max_samples / n)
    quota = np.floor(exact).astype(int)
    if max_samples >= len(classes):
        quota = np.maximum(quota, 1)
    # hand the remaining rows to the classes with the largest remainders (ties broken by the seed)
    order = np.lexsort((rng.random(len(classes)), -(exact - np.floor(exact))))
    for c in order:
        if quota.sum() >= max_samples:
            break
        if quota[c] < counts[c]:
            quota[c] += 1
    while quota.sum() > max_samples:  # the at-least-one rule overshot: trim the largest classes
        quota[np.argmax(quota)] -= 1
    chosen = [rng.permutation(np.flatnonzero(inverse == c))[:q] for c, q in enumerate(quota)]
    return np.sort(np.concatenate(chosen))

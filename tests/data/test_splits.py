"""Stratified, seeded splits and subsets."""
from __future__ import annotations

import numpy as np
import pytest

from tuneforge.data.splits import stratified_split, stratified_subset
from tuneforge.errors import DataError

LABELS = np.array([0] * 600 + [1] * 300 + [2] * 100)


def test_split_is_disjoint_complete_stratified_and_seeded():
    keep, held = stratified_split(LABELS, len(LABELS), 0.2, seed=3)
    assert len(held) == 200 and len(np.intersect1d(keep, held)) == 0
    assert np.array_equal(np.sort(np.concatenate([keep, held])), np.arange(1000))
    assert np.bincount(LABELS[held]).tolist() == [120, 60, 20]
    again = stratified_split(LABELS, len(LABELS), 0.2, seed=3)
    assert np.array_equal(again[1], held)
    assert not np.array_equal(stratified_split(LABELS, len(LABELS), 0.2, seed=4)[1], held)


def test_regression_split_is_random_and_seeded():
    keep, held = stratified_split(None, 50, 0.1, seed=0)
    assert len(held) == 5 and len(keep) == 45
    assert np.array_equal(held, stratified_split(None, 50, 0.1, seed=0)[1])


def test_a_singleton_class_is_named():
    labels = np.array([0, 0, 0, 1, 1, 1, 2])
    with pytest.raises(DataError, match="class 'bird' has only 1 example.*separate"):
        stratified_split(labels, 7, 0.3, seed=0, label_names=["cat", "dog", "bird"])


def test_too_few_rows_to_hold_out():
    with pytest.raises(DataError, match="cannot hold out"):
        stratified_split(None, 3, 0.1, seed=0)


def test_subset_keeps_shares_and_is_seeded():
    idx = stratified_subset(LABELS, len(LABELS), 100, seed=1)
    assert len(idx) == 100 and np.all(np.diff(idx) > 0)
    assert np.bincount(LABELS[idx]).tolist() == [60, 30, 10]
    assert np.array_equal(idx, stratified_subset(LABELS, len(LABELS), 100, seed=1))
    assert np.array_equal(stratified_subset(LABELS, 1000, 5000, seed=1), np.arange(1000))
    tiny = stratified_subset(LABELS, len(LABELS), 3, seed=1)
    assert sorted(LABELS[tiny].tolist()) == [0, 1, 2]   # every class kept when possible
    assert len(stratified_subset(None, 1000, 7, seed=1)) == 7

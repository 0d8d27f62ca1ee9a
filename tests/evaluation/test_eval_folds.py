"""K-fold splits are disjoint, cover every row, are stratified and repeatable; summaries are right."""
import numpy as np
import pytest

from tuneforge.errors import DataError
from tuneforge.evaluation.folds import kfold_indices, summarise_folds


def test_folds_are_disjoint_cover_everything_and_stratified():
    y = np.array([0] * 60 + [1] * 30 + [2] * 15)
    folds = kfold_indices(y, 5, seed=3, stratified=True)
    tests = [te for _, te in folds]
    assert sorted(np.concatenate(tests).tolist()) == list(range(len(y)))
    for train, test in folds:
        assert not set(train) & set(test) and len(train) + len(test) == len(y)
        assert np.bincount(y[test]).tolist() == [12, 6, 3]
    again = kfold_indices(y, 5, seed=3, stratified=True)
    assert all((a[1] == b[1]).all() for a, b in zip(folds, again))


def test_regression_folds_and_a_class_too_small_to_fold():
    folds = kfold_indices(np.linspace(0, 1, 11), 3, seed=0, stratified=False)
    assert sorted(np.concatenate([te for _, te in folds]).tolist()) == list(range(11))
    with pytest.raises(DataError, match="smallest class has 2 rows"):
        kfold_indices(np.array([0] * 10 + [1] * 2), 3, seed=0, stratified=True)


def test_summary_has_mean_std_and_values():
    s = summarise_folds([{"accuracy": 0.8, "per_class": {}}, {"accuracy": 0.9, "per_class": {}}])
    assert set(s) == {"accuracy"}
    assert s["accuracy"]["mean"] == pytest.approx(0.85) and s["accuracy"]["values"] == [0.8, 0.9]
    assert s["accuracy"]["std"] == pytest.approx(np.std([0.8, 0.9], ddof=1))

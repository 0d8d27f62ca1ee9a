"""Class imbalance: inverse-frequency weights, the class-weighted loss, the auto rule, and balanced
sampling as a batch order that is a pure function of (seed, epoch)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tuneforge.data import batch_order
from tuneforge.data.balance import AUTO_RATIO, ClassBalance, imbalance_ratio, inverse_frequency_weights
from tuneforge.errors import RecipeError
from tuneforge.recipe import load_recipe
from tuneforge.recipe.validate import recipe_problems
from tuneforge.tasks import TASKS

CLS = TASKS.get("text-classification")


def test_weights_are_inverse_frequency_and_average_one_over_examples():
    counts = np.array([60, 30, 10, 0])
    w = inverse_frequency_weights(counts)
    assert w[:3] == pytest.approx([100 / (3 * 60), 100 / (3 * 30), 100 / (3 * 10)]) and w[3] == 0
    assert (w * counts).sum() == pytest.approx(counts.sum())   # mean weight over the examples is 1
    assert w[2] / w[0] == pytest.approx(6.0)                    # rarer class, proportionally heavier


def test_class_weights_change_the_loss_exactly_as_specified():
    targets = np.array([0] * 6 + [1] * 2 + [2] * 1)
    weights = torch.as_tensor(CLS.loss_weights(targets, ["a", "b", "c"]), dtype=torch.float32)
    torch.manual_seed(0)
    logits, y = torch.randn(9, 3), torch.as_tensor(targets)
    per_example = F.cross_entropy(logits, y, reduction="none")
    expected = (weights[y] * per_example).sum() / weights[y].sum()   # each example counts w[y]
    assert CLS.loss(logits, y, weights).item() == pytest.approx(expected.item(), rel=1e-6)
    assert CLS.loss(logits, y).item() == pytest.approx(per_example.mean().item(), rel=1e-6)
    assert CLS.loss(logits, y, weights).item() != pytest.approx(CLS.loss(logits, y).item(), rel=1e-3)
    assert CLS.loss(logits, y, torch.ones(3)).item() == pytest.approx(CLS.loss(logits, y).item(), rel=1e-6)


def test_auto_weights_only_beyond_the_documented_ratio():
    names = ["neg", "pos"]
    skewed = np.array([0] * 40 + [1] * 10)                      # ratio 4 > 3
    mild = np.array([0] * 25 + [1] * 10)                        # ratio 2.5 <= 3
    b = ClassBalance.resolve(CLS, "auto", skewed, names)
    assert (b.choice, b.ratio) == ("weights", 4.0) and "4.0 > 3" in b.reason
    assert b.weights.tolist() == pytest.approx([50 / 80, 50 / 20])
    assert ClassBalance.resolve(CLS, "auto", mild, names).choice == "none"
    assert ClassBalance.resolve(CLS, "none", skewed, names).choice == "none"
    s = ClassBalance.resolve(CLS, "sampling", skewed, names)
    assert s.choice == "sampling" and s.classes.tolist() == skewed.tolist() and s.weights is None
    assert AUTO_RATIO == 3.0 and imbalance_ratio({"a": 9, "b": 3, "c": 0}) == 3.0


def test_tasks_without_class_weights_refuse_them_and_auto_says_why():
    reg = TASKS.get("text-regression")
    assert ClassBalance.resolve(reg, "auto", np.zeros(5, np.float32), None).choice == "none"
    with pytest.raises(RecipeError, match="class_balance"):
        ClassBalance.resolve(reg, "weights", np.zeros(5, np.float32), None)
    ml = TASKS.get("text-multilabel")
    b = ClassBalance.resolve(ml, "auto", np.array([[1, 0], [1, 0], [1, 0], [1, 0], [0, 1]], np.float32), ["a", "b"])
    assert b.choice == "none" and "does not weight" in b.reason
    problems = recipe_problems(load_recipe({"task": "text-regression", "model": {"name": "minilm-l6"},
                                            "data": {"train": "x.csv"}, "train": {"class_balance": "sampling"}}))
    assert any(p.startswith("train.class_balance: text-regression supports none, auto") for p in problems)


def test_balanced_sampling_draws_each_class_equally_often():
    classes = np.array([0] * 70 + [1] * 20 + [2] * 10)
    batches = batch_order(100, 8, seed=3, epoch=0, classes=classes)
    rows = np.concatenate(batches)
    assert len(rows) == 100 and sorted(len(b) for b in batches)[-1] == 8
    per_class = np.bincount(classes[rows], minlength=3)
    assert per_class.max() - per_class.min() <= 1 and per_class.sum() == 100
    assert set(rows[classes[rows] == 2]) == set(range(90, 100))    # every minority row is used
    assert set(rows[classes[rows] == 1]) == set(range(70, 90))
    # a pure function of (seed, epoch): the same batches again, other ones next epoch
    again = batch_order(100, 8, seed=3, epoch=0, classes=classes)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    assert not np.array_equal(rows, np.concatenate(batch_order(100, 8, seed=3, epoch=1, classes=classes)))
    lengths = np.arange(100) % 17 + 3
    grouped = np.concatenate(batch_order(100, 8, seed=3, epoch=0, classes=classes, lengths=lengths))
    assert np.bincount(classes[grouped], minlength=3).tolist() == per_class.tolist()

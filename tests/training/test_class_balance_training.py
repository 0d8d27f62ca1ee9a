"""train.class_balance in the training loop: the choice reaches the loss and the batch order, a run
killed mid-epoch resumes to the same parameters, and balanced sampling feeds classes evenly."""
import numpy as np
import pytest
import torch

from tuneforge.recipe import load_recipe
from tuneforge.strategies import Strategy
from tuneforge.tasks import TASKS
from tuneforge.training import Checkpointer, build_trainer

from toy import Crash, ToySplit, toy_model

TASK = TASKS.get("image-classification")


class SkewedSplit(ToySplit):
    """The toy data with its labels made imbalanced: 80% class 0, 15% class 1, 5% class 2."""

    def __init__(self, n=96):
        super().__init__(n=n)
        self.y = np.where(np.arange(n) < int(0.8 * n), 0, np.where(np.arange(n) < int(0.95 * n), 1, 2))


def make(balance, run_dir=None, callbacks=()):
    r = load_recipe({"task": "image-classification", "model": {"name": "toy"}, "data": {"train": "x"},
                     "optimizer": {"lr": 1e-2, "weight_decay": 0.0}, "scheduler": {"name": "constant", "warmup": 0},
                     "train": {"epochs": 3, "batch_size": 16, "seed": 0, "grad_clip": None,
                               "class_balance": balance}})
    m = toy_model()
    return build_trainer(m, TASK, r, Strategy.from_section(r.strategy), SkewedSplit(), run_dir=run_dir,
                         callbacks=callbacks), m


def params(m):
    return {n: p.detach().clone() for n, p in m.net.named_parameters()}


def test_auto_chooses_weights_on_skewed_data_and_they_change_training():
    weighted, mw = make("auto")
    plain, mp = make("none")
    assert weighted.balance.choice == "weights" and plain.balance.choice == "none"
    assert weighted.loss_weights.tolist() == pytest.approx([96 / (3 * 76), 96 / (3 * 15), 96 / (3 * 5)], rel=1e-6)
    weighted.fit()
    plain.fit()
    a, b = params(mw), params(mp)
    assert any(not torch.equal(a[n], b[n]) for n in a)


def test_sampling_feeds_classes_evenly():
    tr, _ = make("sampling")
    fed = []
    original = tr.train_data.batch
    tr.train_data.batch = lambda idx, train=False, generator=None: (
        fed.append(np.asarray(idx)) if train else None, original(idx, train, generator))[1]
    assert tr.balance.choice == "sampling"
    tr.fit()
    assert tr.state.step == 3 * 6   # the same number of steps per epoch as without sampling
    epoch0 = np.concatenate(fed[:6])
    assert np.bincount(tr.train_data.y[epoch0]).tolist() == [32, 32, 32]   # vs 76 / 15 / 5 in the data


@pytest.mark.parametrize("balance", ["sampling", "weights"])
def test_a_killed_balanced_run_resumes_to_the_same_parameters(tmp_path, balance):
    full, m_full = make(balance, tmp_path / "a", [Checkpointer(2)])
    full.fit()
    first, _ = make(balance, tmp_path / "b", [Checkpointer(2), Crash(4)])   # mid-epoch
    with pytest.raises(KeyboardInterrupt):
        first.fit()
    resumed, m_res = make(balance, tmp_path / "b", [Checkpointer(2)])
    resumed.fit(resume=True)
    a, b = params(m_full), params(m_res)
    assert all(torch.equal(a[n], b[n]) for n in a)

"""The learning-rate range test: the smoothing and the suggestion rule on curves whose answer is
known, the sweep on a constructed problem whose good learning rates are known analytically, the
model put back bit-exactly, and the promised errors."""
import numpy as np
import pytest
import torch
from torch import nn

from tuneforge.errors import TuneforgeError
from tuneforge.models.layer_map import Block, LayerMap
from tuneforge.models.task_model import TaskModel
from tuneforge.recipe import load_recipe
from tuneforge.strategies import Strategy
from tuneforge.strategies.base import Plan, Stage
from tuneforge.tasks import TASKS
from tuneforge.training import build_trainer
from tuneforge.training.lr_curve import ema, exponential_lrs, round_lr, smooth, suggest_lr, valley_bottom
from tuneforge.training.lr_finder import range_test

from toy import ToySplit, toy_model


# -- the arithmetic ------------------------------------------------------------------------------
def test_ema_is_bias_corrected_and_causal():
    assert np.allclose(ema([5.0, 5.0, 5.0, 5.0]), 5.0)          # no pull towards zero at the start
    a, b = ema([1.0, 2.0, 3.0, 4.0]), ema([1.0, 2.0, 3.0, 40.0])
    assert np.array_equal(a[:3], b[:3]) and a[3] != b[3]       # a value only affects what follows it


def test_smoothing_removes_noise_without_shifting_the_curve():
    lrs = exponential_lrs(1e-7, 10.0, 100)
    x = np.log10(lrs)
    truth = 2.0 - 1.5 / (1 + np.exp(-3 * (x + 3)))              # falls around lr 1e-3
    noisy = truth + np.random.default_rng(0).normal(0, 0.15, size=100)
    curve = smooth(noisy)
    plateau = x < -5
    assert np.std(curve[plateau] - truth[plateau]) < 0.3 * np.std(noisy[plateau] - truth[plateau])
    # the causal EMA lags behind the fall; the two-way smoothing crosses mid-height where the truth does
    mid = lambda y: x[int(np.argmax(y < 1.25))]  # noqa: E731
    assert abs(mid(curve) - mid(truth)) < 0.25
    assert mid(ema(noisy, 0.9)) - mid(truth) > 0.5


def _valley(lrs, min_at):
    """A typical range-test curve: a plateau, a fall, its minimum at 10**min_at, then divergence."""
    x = np.log10(lrs)
    fall = 2.0 - 1.5 / (1 + np.exp(-4 * (x - (min_at - 1.5))))
    return np.where(x < min_at, fall - 0.1 * (x - min_at), fall + 3.0 * (x - min_at) ** 2)


def test_suggestion_is_a_tenth_of_the_valley_bottom():
    lrs = exponential_lrs(1e-7, 10.0, 100)
    for min_at in (-4.0, -2.0, -1.0):
        loss = _valley(lrs, min_at) + np.random.default_rng(1).normal(0, 0.05, size=100)
        curve = smooth(loss)
        lr, i = suggest_lr(lrs, curve)
        assert abs(np.log10(lr) - (min_at - 1)) < 0.3, (min_at, lr)
        assert lrs[i] == pytest.approx(lr, rel=0.1) and curve[i] > curve.min()


def test_the_first_valley_counts_not_a_later_noisy_dip():
    # LoRA on MiniLM looked like this: a valley, a climb, then a lower dip among noise at 50x the rate
    lrs = exponential_lrs(1e-7, 10.0, 100)
    x = np.log10(lrs)
    loss = 1.10 - 0.04 / (1 + np.exp(-3 * (x + 3.5))) + 0.04 * np.exp(-((x + 1.3) / 0.8) ** 2)
    loss = np.where(x > -1.0, loss - 0.06 * np.exp(-((x + 0.6) / 0.3) ** 2) + 0.2 * np.clip(x + 0.3, 0, None), loss)
    curve = smooth(loss)
    lr, _ = suggest_lr(lrs, curve)
    bottom = lrs[valley_bottom(curve)]
    assert 1e-3 < bottom < 1e-2 and lrs[int(np.argmin(curve))] > 0.1
    assert lr == pytest.approx(bottom / 10)


def test_divergence_does_not_leak_back_into_the_fall():
    lrs = exponential_lrs(1e-7, 10.0, 100)
    mild = _valley(lrs, -2.0)
    violent = np.where(np.log10(lrs) > -2.0, 20 * mild, mild)   # a violent divergence after the minimum
    curve = smooth(violent)
    assert abs(np.log10(lrs[int(np.argmin(curve))]) + 2.0) < 0.2
    before = np.log10(lrs) < -2.5
    assert np.abs(curve[before] - smooth(mild)[before]).max() < 0.1
    naive = ema(ema(violent, 0.9)[::-1], 0.9)[::-1]              # one two-way pass over everything leaks
    assert np.abs(naive[before] - smooth(mild)[before]).max() > 3


def test_a_curve_that_never_falls_gets_the_first_rate():
    lrs = exponential_lrs(1e-6, 1.0, 60)
    rising = 1.0 + np.linspace(0, 3, 60) ** 2
    lr, i = suggest_lr(lrs, smooth(rising))
    assert i == 0 and lr == pytest.approx(1e-6)                # never below the sweep's start
    assert round_lr(3.1622776e-4) == 3.2e-4
    with pytest.raises(ValueError):
        suggest_lr(lrs[:1], rising[:1])


# -- a constructed problem: linear least squares by plain SGD -------------------------------------
class Linear(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.head = nn.Linear(d, 1)

    def forward(self, x):
        return self.head(x)


class RegressionSplit:
    """y = x.w + noise, features with different scales: the loss's curvature is known exactly."""

    lengths = None

    def __init__(self, n=512, d=8, seed=0):
        rng = np.random.default_rng(seed)
        self.x = torch.tensor(rng.normal(size=(n, d)) * np.linspace(0.5, 2.0, d), dtype=torch.float32)
        self.y = (self.x.numpy() @ rng.normal(size=d) + 0.1 * rng.normal(size=n)).astype(np.float32)

    def __len__(self):
        return len(self.y)

    def batch(self, indices, train=False, generator=None):
        idx = np.asarray(indices)
        return {"pixel_values": self.x[torch.as_tensor(idx)], "targets": torch.tensor(self.y[idx])}

    def max_curvature(self) -> float:
        """Largest eigenvalue of the Hessian of the mean squared error (bias column included)."""
        x1 = torch.cat([self.x, torch.ones(len(self), 1)], 1).double()
        return float(torch.linalg.eigvalsh(2 * x1.T @ x1 / len(self)).max())


def linear_model(d=8) -> TaskModel:
    torch.manual_seed(0)
    net = Linear(d)
    layers = LayerMap("linear", [Block("head", ["head.weight", "head.bias"], ["head"], role="head")])
    return TaskModel(net, layers, kind="timm", modality="image", preprocessor=None, source="linear",
                     num_outputs=1, head_linear="head")


REGRESSION = TASKS.get("image-regression")


def sgd_recipe(**over):
    base = {"task": "image-regression", "model": {"name": "linear"}, "data": {"train": "x"},
            "optimizer": {"name": "sgd", "lr": 1e-2, "momentum": 0.0, "weight_decay": 0.0},
            "scheduler": {"name": "constant", "warmup": 0},
            "strategy": {"name": "full", "warm_head": False},  # plain SGD from the start: no solved head
            "train": {"epochs": 2, "batch_size": 16, "seed": 0, "grad_clip": None}}
    return load_recipe(base, over)


def final_loss(lr, data):
    """Mean squared error after the recipe's whole budget (2 epochs) at a constant ``lr``."""
    r, m = sgd_recipe(**{"optimizer.lr": lr, "train.nonfinite": "skip"}), linear_model()
    build_trainer(m, REGRESSION, r, Strategy.from_section(r.strategy), data).fit()
    with torch.no_grad():
        b = data.batch(range(len(data)))
        return float(((m(b).squeeze(-1) - b["targets"]) ** 2).mean())


def test_range_test_finds_the_known_good_region_of_least_squares():
    data = RegressionSplit()
    stable = 2.0 / data.max_curvature()            # SGD on this quadratic diverges above this rate
    r = sgd_recipe()
    result = range_test(linear_model(), REGRESSION, r, Strategy.from_section(r.strategy), data)
    # the good region: stable, and fast enough that the run's 64 steps remove 90% of the loss
    start = final_loss(1e-12, data)
    assert result.suggestion < stable
    assert final_loss(result.suggestion, data) < 0.1 * start
    assert final_loss(stable * 1.5, data) > start  # (above the region the run diverges: the region is real)
    assert result.lrs[-1] > stable                  # the sweep saw the divergence and stopped there
    assert "rose above" in result.stop_reason or "finite" in result.stop_reason
    assert result.stage == "full" and result.trainable_parameters == 9
    assert result.clear and not result.notes


def test_a_sweep_where_the_loss_does_not_move_is_flagged():
    r = toy_recipe()
    result = range_test(toy_model(), TASKS.get("image-classification"), r, Strategy.from_section(r.strategy),
                        ToySplit(), start=1e-12, end=1e-10, steps=30)
    assert not result.clear and "hardly fell" in result.notes[0]


# -- the model comes back exactly; what is swept -------------------------------------------------
def toy_recipe(**over):
    base = {"task": "image-classification", "model": {"name": "toy"}, "data": {"train": "x"},
            "optimizer": {"lr": 1e-2}, "scheduler": {"name": "linear", "warmup": 0.1},
            "train": {"epochs": 3, "batch_size": 8, "seed": 0}}
    return load_recipe(base, over)


@pytest.mark.parametrize("strategy", ["full", "linear-probe"])
def test_model_is_restored_bit_exactly(strategy):
    r = toy_recipe(**{"strategy.name": strategy})
    m, data = toy_model(), ToySplit()
    m.net.block[1].requires_grad_(False)
    m.net.block[0].eval()
    state = {k: v.clone() for k, v in m.state_dict().items()}
    flags = {n: p.requires_grad for n, p in m.named_parameters()}
    modes = {n: x.training for n, x in m.named_modules()}
    batch = data.batch(range(16))
    m.eval()
    with torch.no_grad():
        out = m(batch)
    m.train()
    m.net.block[0].eval()
    torch.manual_seed(123)
    result = range_test(m, TASKS.get("image-classification"), r, Strategy.from_section(r.strategy), data, steps=40)
    assert len(result.losses) > 10
    after = m.state_dict()
    assert all(torch.equal(state[k], after[k]) for k in state)   # weights and BatchNorm statistics
    assert {n: p.requires_grad for n, p in m.named_parameters()} == flags
    assert {n: x.training for n, x in m.named_modules()} == modes
    assert all(p.grad is None for p in m.parameters())
    draw = torch.rand(3)
    torch.manual_seed(123)
    assert torch.equal(draw, torch.rand(3))                      # the random stream is untouched too
    m.eval()
    with torch.no_grad():
        assert torch.equal(m(batch), out)                        # and its forward is its own again


def test_sweeps_the_final_stage_of_the_plan():
    r = toy_recipe(**{"strategy.name": "lp-ft"})
    m = toy_model()
    result = range_test(m, TASKS.get("image-classification"), r, Strategy.from_section(r.strategy), ToySplit(),
                        steps=30)
    plan = Strategy.from_section(r.strategy).plan(m.layer_map, 12, 36)
    assert result.stage == plan.stages[-1].name != plan.stages[0].name
    assert result.trainable_parameters == sum(p.numel() for p in m.parameters())


class _NothingToTrain(Strategy):
    name = "nothing"

    def plan(self, layer_map, steps_per_epoch, total_steps):
        return Plan([Stage("solved head", 0, trainable=[])])


def test_a_strategy_that_trains_nothing_is_refused():
    r = toy_recipe()
    with pytest.raises(TuneforgeError, match=r"optimizer.lr: .*trains no parameter.*none to find"):
        range_test(toy_model(), TASKS.get("image-classification"), r, _NothingToTrain(), ToySplit())


def test_too_small_a_training_set_is_refused():
    r = toy_recipe(**{"train.batch_size": 16})
    with pytest.raises(TuneforgeError, match=r"data.train: too small .*20 training examples make 2 optimizer"):
        range_test(toy_model(), TASKS.get("image-classification"), r, Strategy.from_section(r.strategy),
                   ToySplit(n=20))
    with pytest.raises(TuneforgeError, match="--steps 5 is too few"):
        range_test(toy_model(), TASKS.get("image-classification"), r, Strategy.from_section(r.strategy),
                   ToySplit(), steps=5)

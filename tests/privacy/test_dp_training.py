"""DP-SGD in the trainer, on the toy model: per-example clipping bounds one example's influence, the
epsilon reported is Opacus's accountant's for the same settings, only the strategy's parameters move
(frozen BatchNorm statistics untouched), empty Poisson batches still step, and a killed run resumed
ends with the same weights and the same epsilon as an uninterrupted one."""

import copy

import pytest
import torch
from opacus.accountants import create_accountant
from opacus.accountants.utils import get_noise_multiplier
from opacus.optimizers import DPOptimizer

from tuneforge.privacy.engine import PrivateTraining, default_delta, engine_for
from tuneforge.recipe import load_recipe
from tuneforge.recipe.schema import PrivacySection
from tuneforge.strategies import Strategy
from tuneforge.tasks import TASKS
from tuneforge.training import Checkpointer, build_trainer

from toy import Crash, ToySplit, toy_model

TASK = TASKS.get("image-classification")


def make(strategy="linear-probe", run_dir=None, callbacks=(), privacy=None, **over):
    base = {"task": "image-classification", "model": {"name": "toy"}, "data": {"train": "x"},
            "strategy": {"name": strategy},
            "optimizer": {"lr": 5e-2, "weight_decay": 0.0}, "scheduler": {"name": "constant", "warmup": 0},
            "train": {"epochs": 3, "batch_size": 16, "seed": 0, "class_balance": "none"},
            "privacy": privacy or {"epsilon": 3.0, "max_grad_norm": 1.0, "accountant": "rdp"}}  # rdp: the fastest
    r = load_recipe(base, over)
    m = toy_model()
    return build_trainer(m, TASK, r, Strategy.from_section(r.strategy), ToySplit(), engine=engine_for(r),
                         run_dir=run_dir, callbacks=callbacks), m


def state(m):
    return {n: t.detach().clone() for n, t in m.net.state_dict().items()}


def test_one_examples_gradient_moves_the_weights_at_most_lr_times_max_grad_norm():
    """An example whose gradient is ~1e4 x max_grad_norm moves an SGD step by at most lr*C/B (noise
    negligible here); with two examples the step is exactly the mean of their clipped gradients."""
    C, B, lr = 0.5, 4, 1.0
    net = torch.nn.Linear(8, 3)
    x = torch.randn(2, 8)
    x[0] *= 1e4                                              # the outlier, labelled as its least likely class
    with torch.no_grad():
        y = torch.tensor([int(net(x[:1]).argmin()), 2])
    ref = []                       # per-example gradients, clipped by hand (before Opacus hooks the layer)
    for i in range(2):
        g = torch.autograd.grad(torch.nn.functional.cross_entropy(net(x[i:i + 1]), y[i:i + 1]),
                                [net.weight, net.bias])
        norm = torch.sqrt(sum((t ** 2).sum() for t in g))
        assert i == 1 or float(norm) > 1e3
        ref.append([t * min(1.0, C / (float(norm) + 1e-6)) for t in g])
    assert float(torch.sqrt(sum((t ** 2).sum() for t in ref[0]))) <= C + 1e-6 < 1e3

    for batch in (slice(0, 1), slice(0, 2)):                # the outlier alone, then with a normal example
        net_b = copy.deepcopy(net)
        dp = PrivateTraining(PrivacySection(noise_multiplier=1e-12, max_grad_norm=C), n_train=100, batch_size=B,
                             total_steps=1, seed=0)
        model, opt = dp.wrap(net_b, torch.optim.SGD(net_b.parameters(), lr=lr))
        torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
        opt.step()
        deltas = [p.detach() - b for p, b in zip((net_b.weight, net_b.bias), (net.weight, net.bias))]
        if batch.stop == 1:
            moved = float(torch.sqrt(sum((d ** 2).sum() for d in deltas)))
            assert moved <= lr * C / B + 1e-6                # not ~1e4 / B as without clipping
            assert moved == pytest.approx(lr * C / B, rel=1e-4)
        else:
            for d, g0, g1 in zip(deltas, ref[0], ref[1]):
                torch.testing.assert_close(d, -lr * (g0 + g1) / B, atol=1e-6, rtol=1e-4)


def test_epsilon_and_noise_are_opacus_accountants_for_the_same_settings():
    tr, _ = make(privacy={"epsilon": 3.0, "accountant": "rdp"})
    tr.fit()
    p, n, steps = tr.engine.training, len(ToySplit()), tr.state.step
    assert steps == 3 * 6 and p.steps() == steps
    q, delta = 16 / n, default_delta(n)
    assert p.delta == delta == 1 / (10 * n)
    assert p.noise_multiplier == get_noise_multiplier(target_epsilon=3.0, target_delta=delta, sample_rate=q,
                                                      steps=steps, accountant="rdp")
    ref = create_accountant("rdp")
    ref.history = [(p.noise_multiplier, q, steps)]
    assert p.epsilon() == pytest.approx(ref.get_epsilon(delta=delta), rel=1e-6)
    assert p.epsilon() == pytest.approx(3.0, abs=0.05)       # the whole budget, spent by the last step
    record = p.describe()
    assert record["epsilon"] == p.epsilon() and record["sample_rate"] == q and record["accountant"] == "rdp"


def test_default_prv_accountant_reports_opacus_epsilon_for_a_given_noise_multiplier():
    """(prv's noise search is slow, so this one gives the noise and checks the epsilon)"""
    tr, _ = make(privacy={"noise_multiplier": 1.0, "delta": 1e-3}, **{"train.epochs": 1})
    tr.fit()
    assert tr.recipe.privacy.accountant == "prv"
    ref = create_accountant("prv")
    ref.history = [(1.0, 16 / 96, 6)]
    assert tr.engine.training.epsilon() == pytest.approx(ref.get_epsilon(delta=1e-3), rel=1e-6)


def test_private_linear_probe_moves_only_the_head_and_keeps_frozen_batchnorm_statistics():
    tr, m = make("linear-probe")
    before = state(m)
    tr.fit()
    after = state(m)
    assert isinstance(tr.optimizer, DPOptimizer) and tr.optimizer.max_grad_norm == 1.0
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"head.weight", "head.bias"}          # BatchNorm running stats (stem.1.*) untouched
    assert tr.recipe.strategy.warm_head is False and tr.head_solution is None   # trained by DP-SGD, not solved
    assert not any(hasattr(p, "grad_sample") for p in m.net.parameters())       # Opacus's hooks are gone


def test_freeze_strategy_trains_top_blocks_only():
    tr, m = make("freeze", **{"strategy.top_blocks": 1})
    before = state(m)
    tr.fit()
    changed = {k.split(".")[0] + ("." + k.split(".")[1] if k.startswith("block") else "")
               for k, v in state(m).items() if not torch.equal(before[k], v)}
    assert changed == {"block.1", "head"}


def test_empty_poisson_batches_still_take_a_noise_only_step():
    """batch_size 2 of 96: about one Poisson batch in eight is empty; each is still a step."""
    tr, m = make(**{"train.batch_size": 2, "train.epochs": 1}, privacy={"noise_multiplier": 1.0})
    batches = tr.engine.training.batches(96, 0, tr.n_batches)
    assert any(len(b) == 0 for b in batches) and len(batches) == 48
    before = state(m)
    tr.fit()
    assert tr.state.step == 48 and tr.engine.training.steps() == 48
    assert not torch.equal(before["head.weight"], state(m)["head.weight"])


@pytest.mark.parametrize("crash_at", [5, 12])   # mid-epoch, later mid-epoch
def test_resume_keeps_the_accounting_and_the_weights(tmp_path, crash_at):
    privacy = {"noise_multiplier": 1.0}
    full, m_full = make(run_dir=tmp_path / "a", callbacks=[Checkpointer(2)], privacy=privacy)
    full.fit()
    run = tmp_path / "b"
    first, _ = make(run_dir=run, callbacks=[Checkpointer(2), Crash(crash_at)], privacy=privacy)
    with pytest.raises(KeyboardInterrupt):
        first.fit()
    resumed, m_res = make(run_dir=run, callbacks=[Checkpointer(2)], privacy=privacy)
    resumed.fit(resume=True)
    assert resumed.engine.training.steps() == full.engine.training.steps() == full.state.step
    assert resumed.engine.training.epsilon() == pytest.approx(full.engine.training.epsilon(), rel=1e-9)
    a, b = state(m_full), state(m_res)
    assert all(torch.equal(a[k], b[k]) for k in a)

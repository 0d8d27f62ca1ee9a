"""The training loop on a toy model: loss falls, frozen parameters stay bit-identical, each group
gets the learning rate the plan and schedule say, BatchNorm statistics follow the policy, and a run
interrupted mid-way and resumed ends equal to an uninterrupted one."""

import pytest
import torch

from tuneforge.errors import TrainingError
from tuneforge.recipe import load_recipe
from tuneforge.strategies import Strategy
from tuneforge.tasks import TASKS
from tuneforge.training import Callback, Checkpointer, build_trainer

from toy import Crash, ToySplit, toy_model

TASK = TASKS.get("image-classification")


def recipe(**over):
    base = {"task": "image-classification", "model": {"name": "toy"}, "data": {"train": "x"},
            "optimizer": {"lr": 1e-2, "weight_decay": 0.0}, "scheduler": {"name": "constant", "warmup": 0},
            "train": {"epochs": 3, "batch_size": 16, "seed": 0, "grad_clip": None}}
    return load_recipe(base, over)


def make(strategy="full", model=None, run_dir=None, callbacks=(), **over):
    r = recipe(**{"strategy.name": strategy, **over})
    m = model or toy_model()
    return build_trainer(m, TASK, r, Strategy.from_section(r.strategy), ToySplit(), run_dir=run_dir,
                         callbacks=callbacks), m


def params(m):
    return {n: p.detach().clone() for n, p in m.net.named_parameters()}


def buffers(m):
    return {n: b.detach().clone() for n, b in m.net.named_buffers()}


def mean_loss(m, split):
    m.eval()
    with torch.no_grad():
        b = split.batch(range(len(split)))
        return torch.nn.functional.cross_entropy(m(b), b["targets"]).item()


def test_loss_falls_and_full_changes_every_parameter():
    tr, m = make("full")
    before, loss0 = params(m), mean_loss(m, ToySplit())
    tr.fit()
    assert mean_loss(m, ToySplit()) < 0.7 * loss0
    after = params(m)
    assert all(not torch.equal(before[n], after[n]) for n in before)
    assert tr.state.step == 3 * 6


def test_linear_probe_changes_only_the_head_and_keeps_bn_statistics():
    tr, m = make("linear-probe")
    before, bufs = params(m), buffers(m)
    tr.fit()
    after = params(m)
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    assert changed == {"head.weight", "head.bias"}
    for n, b in buffers(m).items():
        if "num_batches" not in n:
            assert torch.equal(bufs[n], b), n


def test_freeze_with_bn_train_updates_statistics_but_not_weights():
    tr, m = make("freeze", **{"strategy.top_blocks": 1, "strategy.bn": "train"})
    before, bufs = params(m), buffers(m)
    tr.fit()
    after = params(m)
    changed = {n.split(".")[0] + ("." + n.split(".")[1] if n.startswith("block") else "")
               for n in before if not torch.equal(before[n], after[n])}
    assert changed == {"block.1", "head"}
    assert not torch.equal(bufs["stem.1.running_mean"], buffers(m)["stem.1.running_mean"])


def test_each_group_gets_its_learning_rate():
    tr, m = make("freeze", **{"strategy.top_blocks": 1, "optimizer.head_lr": 0.05,
                              "scheduler.name": "linear", "scheduler.warmup": 0, "train.max_steps": 10})
    seen = []

    class Spy(Callback):
        def on_step_end(self, trainer):
            seen.append(dict(trainer.current_lrs()))

    tr.callbacks.callbacks.append(Spy())
    tr.fit()
    first = seen[0]  # lrs used for step 1 (multiplier 1.0 at step 0 of linear decay over 10 steps)
    assert first["stem"] == 0.0 and first["block.0"] == 0.0
    assert first["block.1"] == pytest.approx(1e-2)
    assert first["head"] == pytest.approx(0.05)
    assert seen[4]["block.1"] == pytest.approx(1e-2 * (10 - 4) / 10)


def test_weight_decay_only_on_weights():
    tr, m = make("full", **{"optimizer.weight_decay": 0.1})
    wd = {pg["name"]: pg["weight_decay"] for pg in tr.optimizer.param_groups}
    assert wd["head"] == 0.1 and wd["head (no decay)"] == 0.0


@pytest.mark.parametrize("crash_at", [4, 6, 13])  # mid-epoch, at an epoch end, later mid-epoch
def test_resumed_run_equals_uninterrupted(tmp_path, crash_at):
    full, m_full = make("full", run_dir=tmp_path / "a", callbacks=[Checkpointer(2)])
    full.fit()
    run = tmp_path / "b"
    first, _ = make("full", run_dir=run, callbacks=[Checkpointer(2), Crash(crash_at)])
    with pytest.raises(KeyboardInterrupt):
        first.fit()
    resumed, m_res = make("full", run_dir=run, callbacks=[Checkpointer(2)])
    resumed.fit(resume=True)
    a, b = params(m_full), params(m_res)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert resumed.state.step == full.state.step


def test_nonfinite_loss_stops_with_clear_message():
    tr, m = make("full", **{"optimizer.lr": 1e30, "optimizer.name": "sgd"})
    with pytest.raises(TrainingError, match=r"diverged at step \d+.*learning rate"):
        tr.fit()


def test_same_seed_same_result():
    a, ma = make("full")
    a.fit()
    b, mb = make("full")
    b.fit()
    pa, pb = params(ma), params(mb)
    assert all(torch.equal(pa[n], pb[n]) for n in pa)

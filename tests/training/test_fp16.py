"""train.precision: fp16 on CPU (torch's CPU autocast has float16): the forward runs in float16, a
loss scaler runs, an overflowing step is skipped (weights kept, scale halved) instead of stopping the
run, and a resumed fp16 run restores the scaler and ends equal to an uninterrupted one."""
import pytest
import torch

from tuneforge.recipe import load_recipe
from tuneforge.strategies import Strategy
from tuneforge.tasks import TASKS
from tuneforge.training import Checkpointer, build_trainer

from toy import Crash, ToySplit, toy_model


def make(run_dir=None, callbacks=(), scaler=None, **train):
    r = load_recipe({"task": "image-classification", "model": {"name": "toy"}, "data": {"train": "x"},
                     "strategy": {"name": "full", "warm_head": False}, "optimizer": {"lr": 1e-2},
                     "scheduler": {"name": "constant", "warmup": 0},
                     "train": {"epochs": 2, "batch_size": 16, "seed": 0, "precision": "fp16", **train}})
    m = toy_model()
    tr = build_trainer(m, TASKS.get(r.task), r, Strategy.from_section(r.strategy), ToySplit(), run_dir=run_dir,
                       callbacks=callbacks)
    if scaler is not None:  # a scale that overflows and grows within a few steps, so that its state matters
        tr.scaler = torch.amp.GradScaler("cpu", **scaler)
    return tr, m


def params(m):
    return {n: p.detach().clone() for n, p in m.net.named_parameters()}


def test_fp16_autocasts_and_scales_the_loss():
    tr, m = make()
    dtypes = []
    m.net.head.register_forward_hook(lambda mod, args, out: dtypes.append(out.dtype))
    before = params(m)
    tr.fit()
    assert tr.precision == "fp16" and tr.scaler.is_enabled() and set(dtypes) == {torch.float16}
    after = params(m)
    assert all(not torch.equal(before[n], after[n]) for n in before)


def test_an_overflowing_step_is_skipped_and_the_scale_halved():
    tr, m = make(scaler={"init_scale": 2.0 ** 60}, max_steps=1)
    before = params(m)
    tr.fit()  # no TrainingError: an fp16 overflow is the scaler's business
    assert tr.scaler.get_scale() == 2.0 ** 59 and tr.state.step == 1
    after = params(m)
    assert all(torch.equal(before[n], after[n]) for n in before)


def test_resumed_fp16_run_restores_the_scaler(tmp_path):
    scaler = {"init_scale": 2.0 ** 20, "growth_interval": 2}
    full, m_full = make(tmp_path / "a", [Checkpointer(2)], scaler)
    full.fit()
    first, _ = make(tmp_path / "b", [Checkpointer(2), Crash(5)], scaler)
    with pytest.raises(KeyboardInterrupt):
        first.fit()
    assert list((tmp_path / "b" / "checkpoints").glob("step-*/scaler.pt"))
    resumed, m_res = make(tmp_path / "b", [Checkpointer(2)], scaler)
    resumed.fit(resume=True)
    assert resumed.scaler.get_scale() == full.scaler.get_scale()
    a, b = params(m_full), params(m_res)
    assert all(torch.equal(a[n], b[n]) for n in a)

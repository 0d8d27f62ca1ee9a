"""The learning-rate range test: train a few steps at exponentially growing rates, watch the loss.

One optimizer step per learning rate, from ``start`` to ``end`` (1e-7 to 10 by default, equally
spaced in log), on the recipe's own training batches, through the project's :class:`Trainer`
(same parameter groups, optimizer, precision, frozen-prefix cache and batch order as the run).
What trains is what the strategy trains in the stage in force at the end of the run's plan
(that is where the step budget goes), with that stage's per-block lr scales; the swept value
plays the part of ``optimizer.lr`` (``head_lr`` is not swept: every trained group follows the
swept rate times its plan scale). The sweep stops early once the smoothed loss exceeds
``diverge`` times its best value, or the loss is no longer finite. Then the model is put back
exactly as it was: weights and buffers bit-identical, ``requires_grad`` flags, train/eval
modes and the random number generators.

The curve is smoothed and turned into a suggestion by :mod:`.lr_curve` (rule: a tenth of the
learning rate at the bottom of the smoothed loss's first valley).

Example::

    result = range_test(prepared.model, prepared.task, recipe, prepared.strategy, prepared.encoded["train"])
    print(result.suggestion)              # e.g. 3.2e-04: use optimizer.lr=3.2e-04
"""
from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import TrainingError, TuneforgeError
from ..strategies.base import Plan, freeze_feature_encoder
from ..strategies.param_groups import build_param_groups
from .callbacks import Callback
from .lr_curve import DEFAULT_BETA, RULE, exponential_lrs, round_lr, smooth, suggest_lr, valley_bottom
from .trainer import build_trainer

MIN_STEPS = 20     # fewer points than this do not make a curve
MAX_EPOCHS = 5     # a small training set is swept several times, but not more often than this
MIN_DROP = 0.05    # a curve whose smoothed loss falls less than this (relative) has no clear suggestion


@dataclass
class LRFindResult:
    """A finished sweep: what was tried, what was seen, what is suggested."""

    lrs: list[float]              # the rate of each step taken
    losses: list[float]           # each step's training loss (before its update)
    smoothed: list[float]         # the losses smoothed without lag (what the suggestion is read from)
    suggestion: float             # rounded to 2 significant digits
    index: int                    # the swept step whose rate is nearest the suggestion
    stop_reason: str
    start: float
    end: float
    steps_planned: int
    stage: str                    # the plan stage whose parameters were swept
    trainable_parameters: int
    rule: str = RULE
    clear: bool = True            # False: the smoothed loss hardly fell, the suggestion is a guess
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def override(self) -> str:
        return f"optimizer.lr={self.suggestion:.1e}"


class _LastStage:
    """A strategy whose plan is one stage: the stage the wrapped strategy ends the run in, from step 0."""

    def __init__(self, strategy, stage):
        self.inner, self.stage = strategy, stage

    def plan(self, layer_map, steps_per_epoch, total_steps):
        return Plan([self.stage])

    def __getattr__(self, name):
        return getattr(self.inner, name)


class _Recorder(Callback):
    """Records each optimizer step's loss and asks to stop once the causal EMA diverges."""

    def __init__(self, lrs: np.ndarray, diverge: float, beta: float):
        self.lrs, self.diverge, self.beta = lrs, diverge, beta
        self.losses: list[float] = []
        self._sum, self._n = 0.0, 0
        self._avg, self.best = 0.0, math.inf
        self.stop_reason = "swept every rate"

    def on_step_end(self, trainer):
        s = trainer.state
        if s.loss_n < self._n:       # a new epoch restarted the trainer's running sum
            self._sum, self._n = 0.0, 0
        loss = (s.loss_sum - self._sum) / max(1, s.loss_n - self._n)
        self._sum, self._n = s.loss_sum, s.loss_n
        self.losses.append(loss)
        i = len(self.losses)
        self._avg = self.beta * self._avg + (1 - self.beta) * loss
        smoothed = self._avg / (1 - self.beta ** i)
        self.best = min(self.best, smoothed)
        if smoothed > self.diverge * self.best:
            self.stop_reason = (f"the smoothed loss rose above {self.diverge:g}x its minimum at lr "
                                f"{self.lrs[i - 1]:.1e}")
            trainer.request_stop(self.stop_reason)


class _Snapshot:
    """Everything the sweep changes, to put back exactly."""

    def __init__(self, model):
        self.model = model
        self.state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        self.flags = [(p, p.requires_grad) for p in model.parameters()]
        self.modes = [(m, m.training) for m in model.modules()]
        self.rng = (random.getstate(), np.random.get_state(), torch.get_rng_state(),
                    torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)

    def restore(self) -> None:
        with torch.no_grad():
            self.model.load_state_dict(self.state)
        for p, flag in self.flags:
            p.grad = None
            p.requires_grad_(flag)
        for m, mode in self.modes:
            m.training = mode
        py, np_state, cpu, cuda = self.rng
        random.setstate(py)
        np.random.set_state(np_state)
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def sweep_steps(n_examples: int, train, steps: int) -> int:
    """Steps the sweep takes: ``steps``, at most :data:`MAX_EPOCHS` epochs; an error below :data:`MIN_STEPS`."""
    if steps < MIN_STEPS:
        raise TuneforgeError(f"lr-find: --steps {steps} is too few for a curve; give at least {MIN_STEPS}")
    per_epoch = math.ceil(math.ceil(n_examples / train.batch_size) / train.grad_accum)
    taken = min(steps, MAX_EPOCHS * per_epoch)
    if taken < MIN_STEPS:
        raise TuneforgeError(
            f"data.train: too small for the learning-rate range test: {n_examples} training examples make "
            f"{per_epoch} optimizer step(s) per epoch at train.batch_size={train.batch_size}"
            f"{f' x train.grad_accum={train.grad_accum}' if train.grad_accum > 1 else ''}, and the test takes "
            f"at least {MIN_STEPS} steps in at most {MAX_EPOCHS} epochs; use a smaller train.batch_size or more "
            "data, or set optimizer.lr to a number")
    return taken


def final_stage(model, recipe, strategy, n_examples: int):
    """The plan stage in force at the run's last step, and how many parameters it trains.

    Raises a :class:`TuneforgeError` when that stage trains nothing by gradient descent: then no
    learning rate applies, so there is none to find.
    """
    t = recipe.train
    per_epoch = math.ceil(math.ceil(n_examples / t.batch_size) / t.grad_accum)
    total = t.max_steps or t.epochs * per_epoch
    plan = freeze_feature_encoder(strategy.plan(model.layer_map, per_epoch, total), model.layer_map, strategy.options)
    stage = plan.stages[plan.stage_index(total - 1)]
    groups = build_param_groups(model.net, model.layer_map)
    trainable = sum(g.numel for g in groups if stage.settings(g)[0])
    if trainable == 0:
        raise TuneforgeError(
            f"optimizer.lr: strategy {recipe.strategy.name!r} trains no parameter by gradient descent in its "
            f"final stage ({stage.name!r}), so no learning rate applies and there is none to find; "
            "set optimizer.lr to a number, or choose a strategy that trains")
    return dataclasses.replace(stage, start_step=0, restart_schedule=False), trainable


def range_test(model, task, recipe, strategy, train_data, start: float = 1e-7, end: float = 10.0,
               steps: int = 100, diverge: float = 4.0, beta: float = DEFAULT_BETA,
               accelerator=None) -> LRFindResult:
    """Run the range test on ``model`` (a TaskModel) and return the curve and the suggestion.

    ``recipe`` is the run's recipe (its ``optimizer.lr`` is ignored; ``optimizer.name``,
    weight decay, batch size, grad_accum, grad_clip, precision and seed are used as they are).
    The model comes back exactly as it was, also when the sweep fails.
    """
    if not 0 < start < end:
        raise TuneforgeError(f"lr-find: need 0 < start < end, got start={start:g}, end={end:g}")
    stage, trainable = final_stage(model, recipe, strategy, len(train_data))
    n = sweep_steps(len(train_data), recipe.train, steps)
    lrs = exponential_lrs(start, end, n)
    sweep = recipe.model_copy(update={
        "optimizer": recipe.optimizer.model_copy(update={"lr": end, "head_lr": None}),
        "scheduler": recipe.scheduler.model_copy(update={"warmup": 0.0}),
        "train": recipe.train.model_copy(update={"max_steps": n, "nonfinite": "stop", "restore_best": False,
                                                 "eval_every_steps": None, "early_stopping": None})})
    recorder = _Recorder(lrs, diverge, beta)
    snapshot = _Snapshot(model)
    trainer = None
    try:
        trainer = build_trainer(model, task, sweep, _LastStage(strategy, stage), train_data, callbacks=[recorder],
                                accelerator=accelerator)
        trainer.schedule = lambda step, total, warmup: float(lrs[min(step, n - 1)] / end)
        try:
            trainer.fit()
        except TrainingError:  # a non-finite loss or gradient: the rates went too high
            recorder.stop_reason = f"the loss stopped being finite at lr {lrs[len(recorder.losses)]:.1e}"
    finally:
        if trainer is not None:
            trainer.prefix_cache.close()
        snapshot.restore()
    return _result(recorder, lrs, start, end, n, stage.name, trainable, beta)


def _result(recorder: _Recorder, lrs, start, end, n, stage, trainable, beta) -> LRFindResult:
    losses = recorder.losses
    if len(losses) < 2:
        raise TuneforgeError(f"lr-find: the loss was not finite from the first steps (lr {start:g}); "
                             "check the data, or start the sweep lower (--start)")
    taken = lrs[:len(losses)]
    curve = smooth(losses, beta)
    lr, index = suggest_lr(taken, curve)
    notes = []
    bottom = valley_bottom(curve)
    top = float(curve[:bottom + 1].max())
    drop = (top - float(curve[bottom])) / abs(top) if top else 0.0
    clear = drop >= MIN_DROP
    if not clear:
        notes.append(f"the smoothed loss hardly fell ({drop:.0%}): the suggestion is a guess; "
                     "check the curve, or sweep another range (--start, --end)")
    if recorder.stop_reason == "swept every rate" and bottom >= len(losses) - 3:
        notes.append("the loss was still falling at the highest rate: sweep to a higher --end")
    return LRFindResult(lrs=[float(v) for v in taken], losses=[float(v) for v in losses],
                        smoothed=[float(v) for v in curve], suggestion=round_lr(lr), index=index,
                        stop_reason=recorder.stop_reason, start=start, end=end, steps_planned=n, stage=stage,
                        trainable_parameters=trainable, clear=clear, notes=notes)

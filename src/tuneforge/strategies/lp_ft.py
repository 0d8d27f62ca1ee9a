"""LP-FT (Kumar et al., ICLR 2022): linear probe first, then full fine-tuning from that head.

A random head sends large, meaningless gradients into the pre-trained features early in
full fine-tuning and distorts them; fitting the head first (features frozen) and only then
fine-tuning everything keeps the features closer to the pre-trained ones, which helps most
out of distribution.

By default (``warm_head: auto`` -> true) the probe is *solved*: the head is fitted to its
optimum on the frozen features (L-BFGS, see ``head/solver.py``) before step 0, and
the whole step budget goes to fine-tuning everything at ``optimizer.lr`` (``ft_lr_scale``
1). With ``warm_head: false``, or when ``probe_epochs`` / ``probe_fraction`` is given, a
probe stage trains the head by SGD first (half the steps by default), then fine-tuning runs
at ``ft_lr_scale`` (default 0.1 then) times ``optimizer.lr``.

Options: ``probe_epochs`` (length of an SGD probe stage in epochs) or ``probe_fraction`` (of all
steps); ``ft_lr_scale`` (multiplier of ``optimizer.lr`` in the fine-tuning stage); ``rewarm``
(restart the schedule at the fine-tuning stage, default true).

Example recipe::

    strategy: {name: lp-ft, probe_epochs: 2, ft_lr_scale: 0.1}
"""
from __future__ import annotations

from typing import Optional

from pydantic import Field, model_validator

from .base import STRATEGIES, Plan, Stage, Strategy, StrategyOptions


class LpFtOptions(StrategyOptions):
    probe_epochs: Optional[float] = Field(None, gt=0, description="linear-probe stage length in epochs")
    probe_fraction: Optional[float] = Field(None, gt=0, lt=1, description="linear-probe stage as a fraction of "
                                                                          "all steps (default 0.5)")
    ft_lr_scale: Optional[float] = Field(None, gt=0, description="multiplier of optimizer.lr while fine-tuning "
                                                                 "everything (default 1 after a solved probe, "
                                                                 "0.1 after an SGD probe)")
    rewarm: bool = Field(True, description="restart the learning-rate schedule at the fine-tuning stage")

    @model_validator(mode="after")
    def _one(self):
        if self.probe_epochs is not None and self.probe_fraction is not None:
            raise ValueError("give at most one of strategy.probe_epochs and strategy.probe_fraction")
        return self


@STRATEGIES.register("lp-ft", "linear probe until the head fits, then full fine-tuning at a smaller lr")
class LpFt(Strategy):
    name = "lp-ft"
    Options = LpFtOptions

    def probe_steps(self, steps_per_epoch: int, total_steps: int) -> int:
        o = self.options
        if o.probe_epochs is not None:
            return max(1, round(o.probe_epochs * steps_per_epoch))
        if o.probe_fraction is None and self.solves_head:
            return 0
        return max(1, round((o.probe_fraction or 0.5) * total_steps))

    def defaults(self, ctx):
        out = super().defaults(ctx)
        solved = out["strategy.warm_head"][0] if self.options.warm_head == "auto" else self.options.warm_head
        sgd_probe = self.options.probe_epochs is not None or self.options.probe_fraction is not None
        if solved and not sgd_probe:
            out["strategy.ft_lr_scale"] = (1.0, "the probe is solved: the whole budget fine-tunes at optimizer.lr")
        else:
            out["strategy.ft_lr_scale"] = (0.1, "after an SGD probe, fine-tune at a tenth of the probe's rate")
        return out

    def plan(self, layer_map, steps_per_epoch, total_steps):
        o = self.options
        head = layer_map.head_index
        every = list(range(head + 1))
        scale = 0.1 if o.ft_lr_scale is None else o.ft_lr_scale
        probe = self.probe_steps(steps_per_epoch, total_steps)
        fine_tune = dict(trainable=every, lr_scales={b: scale for b in every}, restart_schedule=o.rewarm)
        if probe == 0:
            return Plan([Stage("fine-tune (head solved first)", 0, solve_head=True, **fine_tune)])
        return Plan([Stage("linear probe", 0, trainable=[head], solve_head=self.solves_head),
                     Stage("fine-tune", probe, **fine_tune)])

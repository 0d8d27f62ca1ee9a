"""LP-FT (Kumar et al., ICLR 2022): linear probe first, then full fine-tuning from that head.

A random head sends large, meaningless gradients into the pre-trained features early in
full fine-tuning and distorts them; fitting the head first (features frozen) and only then
fine-tuning everything at a smaller learning rate keeps the features closer to the
pre-trained ones, which helps most out of distribution.

Options: ``probe_epochs`` (length of the probe stage in epochs) or ``probe_fraction`` (of all
steps, default 0.5); ``ft_lr_scale`` (multiplier of ``optimizer.lr`` in the fine-tuning stage,
default 0.1); ``rewarm`` (restart the schedule at the fine-tuning stage, default true).

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
    ft_lr_scale: float = Field(0.1, gt=0, description="multiplier of optimizer.lr while fine-tuning everything")
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
        return max(1, round((o.probe_fraction or 0.5) * total_steps))

    def plan(self, layer_map, steps_per_epoch, total_steps):
        o = self.options
        head = layer_map.head_index
        every = list(range(head + 1))
        return Plan([Stage("linear probe", 0, trainable=[head]),
                     Stage("fine-tune", self.probe_steps(steps_per_epoch, total_steps), trainable=every,
                           lr_scales={b: o.ft_lr_scale for b in every}, restart_schedule=o.rewarm)])

"""Discriminative learning rates: every block trains, lower blocks more slowly.

Lower layers hold general features that need little change; upper layers and the new
head need more. The head gets ``optimizer.lr``; each block below gets a smaller scale:

- ``decay: 0.8`` (default): the block ``d`` steps below the head gets ``lr * 0.8 ** d``;
- ``lr_range: [low, high]``: a geometric spread of multipliers of ``optimizer.lr`` from the
  lowest block (``low``) to the head (``high``), fastai's ``slice(low, high)``.

Example recipe::

    strategy: {name: discriminative, decay: 0.7}
"""
from __future__ import annotations

from typing import Optional

from pydantic import Field, model_validator

from .base import STRATEGIES, Plan, Stage, Strategy, StrategyOptions
from .lr_spread import decay_scales, range_scales


class DiscriminativeOptions(StrategyOptions):
    decay: float = Field(0.8, gt=0, le=1, description="learning-rate factor per block below the head")
    lr_range: Optional[list[float]] = Field(None, min_length=2, max_length=2,
                                            description="[low, high] multipliers of optimizer.lr, lowest block "
                                                        "to head, geometric in between (overrides decay)")

    @model_validator(mode="after")
    def _range(self):
        if self.lr_range is not None:
            low, high = self.lr_range
            if not 0 < low <= high:
                raise ValueError(f"strategy.lr_range needs 0 < low <= high, got {self.lr_range}")
        return self

    def scales(self, n_blocks: int) -> dict[int, float]:
        if self.lr_range is not None:
            return range_scales(n_blocks, *self.lr_range)
        return decay_scales(n_blocks, self.decay)


@STRATEGIES.register("discriminative", "train every block, with learning rates decaying from the head to the input")
class Discriminative(Strategy):
    name = "discriminative"
    Options = DiscriminativeOptions

    def plan(self, layer_map, steps_per_epoch, total_steps):
        n = len(layer_map.blocks)
        return Plan([Stage("discriminative", 0, trainable=list(range(n)), lr_scales=self.options.scales(n))])

"""Full fine-tuning: every parameter trains."""
from __future__ import annotations

from .base import STRATEGIES, Plan, Stage, Strategy


@STRATEGIES.register("full", "train every parameter of the model and the new head")
class Full(Strategy):
    name = "full"

    def plan(self, layer_map, steps_per_epoch, total_steps):
        return Plan([Stage("full", 0, trainable=list(range(len(layer_map.blocks))))])

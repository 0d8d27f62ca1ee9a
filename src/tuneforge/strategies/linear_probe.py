"""Linear probe (feature extraction): the pre-trained backbone is frozen, only the new head trains."""
from __future__ import annotations

from .base import STRATEGIES, Plan, Stage, Strategy


@STRATEGIES.register("linear-probe", "freeze the whole backbone; train only the new head")
class LinearProbe(Strategy):
    name = "linear-probe"

    def plan(self, layer_map, steps_per_epoch, total_steps):
        return Plan([Stage("head only", 0, trainable=[layer_map.head_index])])

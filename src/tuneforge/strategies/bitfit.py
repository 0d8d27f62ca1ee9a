"""BitFit (Ben Zaken et al., ACL 2022): train only biases and normalisation parameters, plus the head.

The cheapest baseline after the linear probe: well under 1% of a transformer's parameters
train, yet the features can still shift. What counts as "bias or norm" is every
parameter without weight decay (one-dimensional tensors and ``*.bias``); the new head
trains fully. In CNNs this includes BatchNorm's scale and shift, so BatchNorm layers
train (and update their statistics).

Example recipe::

    strategy: {name: bitfit}
"""
from __future__ import annotations

from .base import STRATEGIES, Plan, Stage, Strategy


@STRATEGIES.register("bitfit", "train only biases and normalisation parameters, plus the new head")
class BitFit(Strategy):
    name = "bitfit"
    lr_factor = 10.0

    def plan(self, layer_map, steps_per_epoch, total_steps):
        head = layer_map.head_index
        return Plan([Stage("biases and norms", 0, trainable=list(range(head + 1)), only_no_decay=True,
                           full_blocks=[head])])

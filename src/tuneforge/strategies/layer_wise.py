"""Chain-thaw (Felbo et al. 2017, DeepMoji): one block at a time, then all together.

Stage 0 trains the head alone; then each block trains alone, from the top down (the
block just below the head first), so that each adapts with the others fixed; a last
stage trains every block together until the end. Slower than gradual unfreezing, and
gentler on small data sets where changing many layers at once overfits.

Options: ``epochs_per_stage`` / ``steps_per_stage`` (the length of each one-block stage and
of the head stage; default: the step budget shared by all stages); ``blocks`` (how many blocks below the head get a stage of their own,
default all); ``with_head`` (the head keeps training during the one-block stages).

Example recipe::

    strategy: {name: layer-wise, steps_per_stage: 50, blocks: 4}
"""
from __future__ import annotations

from typing import Optional

from pydantic import Field

from .base import STRATEGIES, Plan, Stage
from .staged import StagedOptions, StagedStrategy, unreached_note


class LayerWiseOptions(StagedOptions):
    blocks: Optional[int] = Field(None, ge=0, description="blocks below the head that get a stage of their own "
                                                          "(default all)")
    with_head: bool = Field(False, description="the head trains in the one-block stages too")


@STRATEGIES.register("layer-wise", "chain-thaw: head, then each block alone from the top, then all together")
class LayerWise(StagedStrategy):
    name = "layer-wise"
    Options = LayerWiseOptions

    def n_stages(self, n_blocks: int) -> int:
        return (n_blocks - 1 if self.options.blocks is None else self.options.blocks) + 2

    def plan(self, layer_map, steps_per_epoch, total_steps):
        o = self.options
        head = layer_map.head_index
        length = o.stage_steps(steps_per_epoch, total_steps, self.n_stages(len(layer_map.blocks)))
        stages = [Stage("head only", 0, trainable=[head])]
        for k in range(1, (head if o.blocks is None else o.blocks) + 1):
            block = head - k
            trainable = [block, head] if o.with_head else [block]
            stages.append(Stage(f"{layer_map.blocks[block].name} alone", k * length, trainable=trainable))
        stages.append(Stage("all blocks", len(stages) * length, trainable=list(range(head + 1))))
        return unreached_note(Plan(stages), total_steps)

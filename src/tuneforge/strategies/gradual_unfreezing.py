"""Gradual unfreezing (ULMFiT, Howard & Ruder 2018): thaw the network from the top down.

Stage 0 trains the head alone; each later stage unfreezes one more block from the top
(the block just below the head first, the embeddings or stem last), every
``epochs_per_stage`` epochs or ``steps_per_stage`` steps. The last stage runs to the end.
A new head cannot wreck the pre-trained blocks with its early, large gradients, because
they join only once the head has settled.

Options: ``epochs_per_stage`` / ``steps_per_stage`` (default: the step budget shared by the stages); ``blocks`` (how many blocks below the
head are eventually unfrozen, default all); ``rewarm`` (restart the learning-rate schedule,
warmup included, at each stage); ``discriminative_decay`` (lower blocks get
``lr * decay ** depth``, combining ULMFiT's two ideas).

Example recipe::

    strategy: {name: gradual-unfreezing, epochs_per_stage: 1, rewarm: true, discriminative_decay: 0.8}
"""
from __future__ import annotations

from typing import Optional

from pydantic import Field

from .base import STRATEGIES, Plan, Stage
from .lr_spread import decay_scales
from .staged import StagedOptions, StagedStrategy, unreached_note


class GradualUnfreezingOptions(StagedOptions):
    blocks: Optional[int] = Field(None, ge=0, description="blocks below the head unfrozen in the end (default all)")
    rewarm: bool = Field(False, description="restart the learning-rate schedule (with its warmup) at each stage")
    discriminative_decay: Optional[float] = Field(None, gt=0, le=1,
                                                  description="learning-rate factor per block below the head")


@STRATEGIES.register("gradual-unfreezing",
                     "ULMFiT: head first, then unfreeze one more block from the top every stage")
class GradualUnfreezing(StagedStrategy):
    name = "gradual-unfreezing"
    Options = GradualUnfreezingOptions

    def n_stages(self, n_blocks: int) -> int:
        return (n_blocks - 1 if self.options.blocks is None else self.options.blocks) + 1

    def plan(self, layer_map, steps_per_epoch, total_steps):
        o = self.options
        head = layer_map.head_index
        n_thaw = head if o.blocks is None else o.blocks
        length = o.stage_steps(steps_per_epoch, total_steps, self.n_stages(len(layer_map.blocks)))
        scales = decay_scales(head + 1, o.discriminative_decay) if o.discriminative_decay else {}
        stages = []
        for k in range(n_thaw + 1):
            trainable = list(range(head - k, head + 1))
            name = "head only" if k == 0 else f"top {k} block{'s' if k > 1 else ''} + head"
            stages.append(Stage(name, k * length, trainable=trainable,
                                lr_scales={b: scales[b] for b in trainable} if scales else {},
                                restart_schedule=o.rewarm))
        return unreached_note(Plan(stages), total_steps)

"""Partial fine-tuning: train the top N blocks (and the head), or freeze blocks by name pattern.

Options:
- ``top_blocks: N`` trains the N blocks just below the head (counted over every block of the
  layer map below the head, so a neck or final norm counts), plus the head.
- ``freeze: [pattern, ...]`` freezes blocks whose name matches a shell-style pattern
  (``embeddings``, ``encoder.layer.[0-3]``, ``blocks.*``); everything else trains.
With neither, the top third of the blocks below the head trains (at least one; two of MiniLM's
six layers plus the final norm block count as blocks too). The head always trains. ``bn: frozen``
(default) keeps frozen blocks in eval mode.
"""
from __future__ import annotations

import fnmatch
from typing import Optional

from pydantic import Field, model_validator

from .base import STRATEGIES, Plan, Stage, Strategy, StrategyOptions


class FreezeOptions(StrategyOptions):
    top_blocks: Optional[int] = Field(None, ge=0, description="train this many blocks below the head")
    freeze: Optional[list[str]] = Field(None, description="block-name patterns to freeze")

    @model_validator(mode="after")
    def _one_of(self):
        if self.top_blocks is not None and self.freeze is not None:
            raise ValueError("give at most one of strategy.top_blocks or strategy.freeze")
        return self


@STRATEGIES.register("freeze", "train only the top N blocks (or freeze blocks by name pattern) and the head")
class Freeze(Strategy):
    name = "freeze"
    Options = FreezeOptions

    def defaults(self, ctx):
        out = super().defaults(ctx)
        o = self.options
        if o.top_blocks is None and o.freeze is None and ctx.n_blocks is not None:
            out["strategy.top_blocks"] = (default_top_blocks(ctx.n_blocks - 1),
                                          "default of freeze: the top third of the blocks below the head")
        return out

    def check(self, block_names: list[str]) -> list[str]:
        body = block_names[:-1]
        o = self.options
        if o.top_blocks is not None and o.top_blocks > len(body):
            return [f"strategy.top_blocks: {o.top_blocks} blocks asked, but the model has only "
                    f"{len(body)} blocks below the head ({', '.join(body)})"]
        if o.freeze is not None:
            unmatched = [p for p in o.freeze if not any(fnmatch.fnmatchcase(b, p) for b in body)]
            if unmatched:
                return [f"strategy.freeze: pattern(s) {unmatched} match no block; blocks are: {', '.join(body)}"]
        return []

    def trainable_blocks(self, names: list[str]) -> list[int]:
        head = len(names) - 1
        o = self.options
        if o.freeze is None:
            top = o.top_blocks if o.top_blocks is not None else default_top_blocks(head)
            return list(range(head - top, head + 1))
        return [i for i, n in enumerate(names)
                if i == head or not any(fnmatch.fnmatchcase(n, p) for p in o.freeze)]

    def plan(self, layer_map, steps_per_epoch, total_steps):
        trainable = self.trainable_blocks(layer_map.names())
        return Plan([Stage("partial", 0, trainable=trainable)])


def default_top_blocks(body_blocks: int) -> int:
    """The top third of ``body_blocks`` (rounded up, at least one)."""
    return max(1, -(-body_blocks // 3))

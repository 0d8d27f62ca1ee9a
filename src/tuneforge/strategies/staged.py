"""Options shared by strategies that move through stages of a fixed length (epochs or steps).

A stage lasts ``epochs_per_stage`` epochs (fractions allowed) or, when given,
``steps_per_stage`` optimizer steps. Stage starts are computed once, from the number of
steps per epoch, so they are the same in every process and after a resume.
"""
from __future__ import annotations

from typing import Optional

from pydantic import Field

from .base import Strategy, StrategyOptions


class StagedOptions(StrategyOptions):
    epochs_per_stage: float = Field(1.0, gt=0, description="length of each stage in epochs (fractions allowed)")
    steps_per_stage: Optional[int] = Field(None, ge=1, description="length of each stage in optimizer steps "
                                                                   "(overrides epochs_per_stage)")

    def stage_steps(self, steps_per_epoch: int) -> int:
        """Optimizer steps per stage (at least one)."""
        if self.steps_per_stage is not None:
            return self.steps_per_stage
        return max(1, round(self.epochs_per_stage * steps_per_epoch))


def too_many(key: str, asked: int, block_names: list[str]) -> list[str]:
    """The problem message when ``asked`` blocks below the head are wanted but fewer exist."""
    body = block_names[:-1]
    if asked > len(body):
        return [f"{key}: {asked} blocks asked, but the model has only {len(body)} blocks below the head "
                f"({', '.join(body)})"]
    return []


class StagedStrategy(Strategy):
    """Base of strategies with a ``blocks`` option: refuses more blocks than the model has."""

    def check(self, block_names):
        blocks = self.options.blocks
        return too_many("strategy.blocks", blocks, block_names) if blocks is not None else []

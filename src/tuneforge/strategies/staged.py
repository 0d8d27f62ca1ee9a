"""Options shared by strategies that move through stages of a fixed length (epochs or steps).

A stage lasts ``steps_per_stage`` optimizer steps or ``epochs_per_stage`` epochs (fractions
allowed). Left unset, the length is fitted to the step budget so that every planned stage
runs: ``total_steps // number of stages`` (at least 1; when the budget has fewer steps than
stages, the plan's notes say which stages will not run). Stage starts are computed once,
from the budget, so they are the same in every process and after a resume.
"""
from __future__ import annotations

from typing import Optional

from pydantic import Field

from .base import Strategy, StrategyOptions


class StagedOptions(StrategyOptions):
    epochs_per_stage: Optional[float] = Field(None, gt=0, description="length of each stage in epochs (fractions "
                                                                      "allowed; default: fitted to the budget)")
    steps_per_stage: Optional[int] = Field(None, ge=1, description="length of each stage in optimizer steps "
                                                                   "(overrides epochs_per_stage)")

    def stage_steps(self, steps_per_epoch: int, total_steps: int = 0, n_stages: int = 1) -> int:
        """Optimizer steps per stage (at least one): as set, or the budget shared among the stages."""
        if self.steps_per_stage is not None:
            return self.steps_per_stage
        if self.epochs_per_stage is not None:
            return max(1, round(self.epochs_per_stage * steps_per_epoch))
        return fitted_length(total_steps, n_stages)


def fitted_length(total_steps: int, n_stages: int) -> int:
    """The stage length that lets all ``n_stages`` stages run within ``total_steps`` (at least 1)."""
    return max(1, total_steps // max(1, n_stages))


def unreached_note(plan, total_steps: int):
    """Add to ``plan.notes`` which stages start after the budget ends (so never train); returns ``plan``."""
    late = plan.unreached(total_steps)
    if late:
        plan.notes.append(f"{len(late)} of {len(plan.stages)} stages start after the last step ({total_steps}) and "
                          f"will not run: {', '.join(late)}; shorten the stages (strategy.steps_per_stage) or "
                          f"raise train.epochs")
    return plan


def too_many(key: str, asked: int, block_names: list[str]) -> list[str]:
    """The problem message when ``asked`` blocks below the head are wanted but fewer exist."""
    body = block_names[:-1]
    if asked > len(body):
        return [f"{key}: {asked} blocks asked, but the model has only {len(body)} blocks below the head "
                f"({', '.join(body)})"]
    return []


class StagedStrategy(Strategy):
    """Base of strategies with a ``blocks`` option: refuses more blocks than the model has."""

    def n_stages(self, n_blocks: int) -> int:
        raise NotImplementedError

    def defaults(self, ctx):
        out = super().defaults(ctx)
        o = self.options
        if o.steps_per_stage is None and o.epochs_per_stage is None:
            if ctx.total_steps is not None and ctx.n_blocks is not None:
                n = self.n_stages(ctx.n_blocks)
                out["strategy.steps_per_stage"] = (fitted_length(ctx.total_steps, n),
                                                   f"{ctx.total_steps} steps shared by {n} stages")
            else:
                out["strategy.steps_per_stage"] = (None, "fitted to the step budget when training starts")
        return out

    def check(self, block_names):
        blocks = self.options.blocks
        return too_many("strategy.blocks", blocks, block_names) if blocks is not None else []

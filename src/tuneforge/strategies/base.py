"""What every strategy is: options, a feasibility check, and a plan of stages.

A :class:`Plan` is a list of :class:`Stage` objects; each says, from a given optimizer
step on, which blocks of the layer map train and at which learning-rate scale. The
trainer applies the stage that covers the current step; nothing else changes mid-run.

Adding a strategy means adding one file::

    @STRATEGIES.register("my-strategy", "one line shown by `tuneforge list strategies`")
    class MyStrategy(Strategy):
        class Options(StrategyOptions):
            depth: int = 2
        def plan(self, layer_map, steps_per_epoch, total_steps):
            return Plan([Stage("all", 0, trainable=list(range(len(layer_map.blocks))))])
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import ClassVar, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import RecipeError
from ..models.layer_map import LayerMap
from ..registry import Registry, did_you_mean
from .param_groups import ParamGroup

STRATEGIES: Registry[type["Strategy"]] = Registry("strategy")


class StrategyOptions(BaseModel):
    """Options every strategy shares."""

    model_config = ConfigDict(extra="forbid")
    bn: Literal["frozen", "train"] = Field(
        "frozen", description="BatchNorm/dropout in frozen blocks: 'frozen' keeps them in eval mode "
                              "(running statistics untouched), 'train' lets statistics update")


@dataclass
class Stage:
    name: str
    start_step: int
    trainable: list[int]                                  # block indices that train
    lr_scales: dict[int, float] = field(default_factory=dict)  # block -> scale (default 1.0)
    only_no_decay: bool = False                           # train biases and norms only (BitFit)
    restart_schedule: bool = False                        # the LR schedule starts over at this stage
    kinds: Optional[list[str]] = None                     # only groups of these kinds train ("adapter"...)
    full_blocks: list[int] = field(default_factory=list)  # blocks exempt from only_no_decay and kinds

    def settings(self, group: ParamGroup) -> tuple[bool, float]:
        """(trains?, learning-rate scale) of a parameter group in this stage.

        A group trains when its block is in ``trainable`` and, unless the block is one of
        ``full_blocks``, it passes the BitFit filter (``only_no_decay``) and the kind filter
        (``kinds``, e.g. ``["adapter"]`` for LoRA: base weights stay frozen).
        """
        trains = group.block in self.trainable
        if trains and group.block not in self.full_blocks:
            trains = not (self.only_no_decay and group.decay) and (self.kinds is None or group.kind in self.kinds)
        return trains, float(self.lr_scales.get(group.block, 1.0))


@dataclass
class Plan:
    stages: list[Stage]

    def stage_index(self, step: int) -> int:
        idx = 0
        for i, s in enumerate(self.stages):
            if s.start_step <= step:
                idx = i
        return idx

    def stage_bounds(self, index: int, total_steps: int) -> tuple[int, int]:
        start = self.stages[index].start_step
        end = self.stages[index + 1].start_step if index + 1 < len(self.stages) else total_steps
        return start, max(end, start + 1)

    def to_dict(self, layer_map: LayerMap, groups: list[ParamGroup]) -> list[dict]:
        out = []
        for s in self.stages:
            trainable = sum(g.numel for g in groups if s.settings(g)[0])
            out.append({**asdict(s), "lr_scales": {layer_map.blocks[b].name: v for b, v in s.lr_scales.items()},
                        "trainable": [layer_map.blocks[b].name for b in s.trainable],
                        "trainable_parameters": trainable})
        return out


class Strategy:
    """Base class: subclasses set ``Options`` and implement :meth:`plan`."""

    name: ClassVar[str] = ""
    Options: ClassVar[type[StrategyOptions]] = StrategyOptions

    def __init__(self, options: Optional[StrategyOptions] = None):
        self.options = options if options is not None else self.Options()

    @classmethod
    def from_section(cls, section) -> "Strategy":
        """Build from the recipe's ``strategy`` section, checking this strategy's options."""
        strategy_cls = STRATEGIES.get(section.name)
        raw = {k: v for k, v in section.model_dump().items() if k != "name"}
        try:
            return strategy_cls(strategy_cls.Options.model_validate(raw))
        except ValidationError as e:
            raise RecipeError(problems=[_describe(err, strategy_cls) for err in e.errors()]) from None

    def check(self, block_names: list[str]) -> list[str]:
        """Problems with using this strategy on a model with these blocks (input to head)."""
        return []

    def prepare(self, model):
        """Change the model before groups are built (adapters wrap it here). Default: unchanged."""
        return model

    def plan(self, layer_map: LayerMap, steps_per_epoch: int, total_steps: int) -> Plan:
        raise NotImplementedError

    def finalize(self, model):
        """After training, before the model is evaluated on test and saved (adapters merge here)."""
        return model

    def save_extra(self, model, run_dir) -> list[str]:
        """Write strategy-specific files into the run folder (e.g. an adapter alone); return their names."""
        return []

    @property
    def frozen_blocks_eval(self) -> bool:
        return self.options.bn == "frozen"


def _describe(err: dict, strategy_cls) -> str:
    key = "strategy." + ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        known = list(strategy_cls.Options.model_fields)
        return (f"{key}: not an option of strategy {strategy_cls.name!r}"
                f"{did_you_mean(err['loc'][-1], known)}; its options: {', '.join(known)}")
    return f"{key}: {err['msg'].removeprefix('Value error, ')} (got {err.get('input')!r})"

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
from typing import Any, ClassVar, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import RecipeError
from ..models.layer_map import FEATURE_ENCODER, LayerMap
from ..registry import Registry, did_you_mean
from .param_groups import ParamGroup
from .defaults import common_defaults

STRATEGIES: Registry[type["Strategy"]] = Registry("strategy")


class StrategyOptions(BaseModel):
    """Options every strategy shares."""

    model_config = ConfigDict(extra="forbid")
    bn: Literal["frozen", "train"] = Field(
        "frozen", description="BatchNorm/dropout in frozen blocks: 'frozen' keeps them in eval mode "
                              "(running statistics untouched), 'train' lets statistics update")
    warm_head: Union[bool, Literal["auto"]] = Field(
        "auto", description="fit the new head to its optimum on the frozen features (L-BFGS) before the first "
                            "step; auto: this strategy's default (see docs/strategies.md)")
    freeze_feature_encoder: Union[bool, Literal["auto"]] = Field(
        "auto", description="keep a speech model's convolutional feature encoder (block 'feature_encoder' of "
                            "wav2vec2/HuBERT) frozen in every stage; auto: true for models that have one")


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
    solve_head: bool = False                              # the head is solved (L-BFGS) before this stage;
                                                          # first stage only (see head/start.py)

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
    """The stages, plus ``max_steps`` (a cap on SGD steps: 0 for a solved linear probe) and ``notes``
    (what the plan-maker wants the user to know before training, e.g. stages that will not run)."""

    stages: list[Stage]
    max_steps: Optional[int] = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        if any(s.solve_head for s in self.stages[1:]):
            raise ValueError("only the first stage of a plan can solve the head")

    @property
    def solves_head(self) -> bool:
        return bool(self.stages) and self.stages[0].solve_head

    def unreached(self, total_steps: int) -> list[str]:
        """Names of the stages that start at or after the last step (they would never train)."""
        return [s.name for s in self.stages[1:] if s.start_step >= total_steps]

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
                        "head": layer_map.blocks[layer_map.head_index].name,
                        "trainable_parameters": trainable})
        return out


class Strategy:
    """Base class: subclasses set ``Options`` and implement :meth:`plan`.

    Defaults: :meth:`defaults` says what an unset ``optimizer.lr`` (and ``head_lr``, stage
    lengths...) means for this strategy, given the model family and the step budget; see
    :mod:`tuneforge.strategies.defaults`. ``lr_factor`` scales the family's full fine-tuning
    learning rate (adapters and BitFit want ~10x); ``warm_head_default`` is what
    ``warm_head: auto`` becomes. ``head_solvable`` is set by the trainer before :meth:`plan`:
    whether the head can be solved exactly on this model (see ``head/start.py``).
    """

    name: ClassVar[str] = ""
    Options: ClassVar[type[StrategyOptions]] = StrategyOptions
    lr_factor: ClassVar[float] = 1.0
    warm_head_default: ClassVar[bool] = True

    def __init__(self, options: Optional[StrategyOptions] = None):
        self.options = options if options is not None else self.Options()
        self.head_solvable = False

    @property
    def solves_head(self) -> bool:
        """Whether this strategy wants its head solved before step 0 (resolved ``warm_head``)."""
        return self.options.warm_head is True

    def defaults(self, ctx) -> dict[str, tuple[Any, str]]:
        """``{dotted key: (value, why)}`` for the settings left unset; see ``strategies/defaults.py``."""
        return common_defaults(self, ctx)

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

    def recipe_problems(self, recipe) -> list[str]:
        """Problems with using this strategy with the rest of ``recipe`` (its task, data, train options);
        found by ``tuneforge validate``. Default: none."""
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




def feature_encoder_problems(options: StrategyOptions, block_names: list[str]) -> list[str]:
    """``strategy.freeze_feature_encoder: true`` on a model without a feature encoder block."""
    if options.freeze_feature_encoder is True and FEATURE_ENCODER not in block_names:
        return [f"strategy.freeze_feature_encoder: true, but the model has no '{FEATURE_ENCODER}' block (only "
                f"speech encoders such as wav2vec2 and HuBERT have one; blocks: {', '.join(block_names)}); remove it"]
    return []


def freeze_feature_encoder(plan: Plan, layer_map: LayerMap, options: StrategyOptions) -> Plan:
    """``plan`` with the feature encoder block taken out of every stage when
    ``strategy.freeze_feature_encoder`` is true (resolved from ``auto`` by ``strategies/defaults.py``).

    Applied to every strategy's plan, so full, freeze, discriminative, gradual unfreezing and LoRA
    all leave the conv stack of wav2vec2/HuBERT as pre-trained.
    """
    problems = feature_encoder_problems(options, layer_map.names())
    if problems:
        raise RecipeError(problems=problems)
    if options.freeze_feature_encoder is not True:
        return plan
    index = layer_map.names().index(FEATURE_ENCODER)
    for stage in plan.stages:
        stage.trainable = [b for b in stage.trainable if b != index]
        stage.full_blocks = [b for b in stage.full_blocks if b != index]
        stage.lr_scales.pop(index, None)
    return plan


def _describe(err: dict, strategy_cls) -> str:
    key = "strategy." + ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        known = list(strategy_cls.Options.model_fields)
        return (f"{key}: not an option of strategy {strategy_cls.name!r}"
                f"{did_you_mean(err['loc'][-1], known)}; its options: {', '.join(known)}")
    return f"{key}: {err['msg'].removeprefix('Value error, ')} (got {err.get('input')!r})"

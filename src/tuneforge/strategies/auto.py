"""``strategy: auto``: race a few strategies on the validation split, then train the winner.

This file only declares the strategy (its options, their checks, its place in
``tuneforge list strategies``); the race itself is :mod:`tuneforge.modes.race`, which a
plain ``tuneforge run`` hands an ``auto`` recipe to. ``auto`` never trains a model itself,
so it has no plan.

Options: ``candidates`` (strategy names, or mappings ``{name: ..., **options}``; default
linear-probe, lp-ft, full, gradual-unfreezing), ``eta`` (each rung keeps the best 1/eta and
multiplies the step budget by eta), ``min_fraction`` (the first rung's share of the run's
step budget). ``bn`` and ``warm_head``, when set here, apply to every candidate that does not
set its own.

Example recipe::

    strategy: {name: auto}
    strategy: {name: auto, candidates: [linear-probe, lora, {name: freeze, top_blocks: 2}], eta: 3}
"""
from __future__ import annotations

from typing import Any, Union

from pydantic import Field, ValidationError, field_validator

from ..errors import RecipeError
from ..registry import did_you_mean
from .base import STRATEGIES, Plan, Strategy, StrategyOptions, _describe

DEFAULT_CANDIDATES = ["linear-probe", "lp-ft", "full", "gradual-unfreezing"]
SHARED = ("bn", "warm_head")  # options of auto that pass down to the candidates


class AutoOptions(StrategyOptions):
    candidates: list[Union[str, dict[str, Any]]] = Field(
        default_factory=lambda: list(DEFAULT_CANDIDATES), min_length=2,
        description="strategies to race: names, or mappings {name: ..., **options}")
    eta: int = Field(2, ge=2, description="each rung keeps the best 1/eta candidates and gives them eta times "
                                          "the steps")
    min_fraction: float = Field(0.25, gt=0.0, le=1.0, description="the first rung's step budget as a share of "
                                                                   "the run's (train.max_steps or epochs)")

    @field_validator("candidates")
    @classmethod
    def _known(cls, value):
        problems, seen = [], set()
        for i, entry in enumerate(value):
            where = f"strategy.candidates[{i}]"
            section = dict(entry) if isinstance(entry, dict) else {"name": entry}
            name = section.pop("name", None)
            if not isinstance(name, str):
                problems.append(f"{where}: a candidate is a strategy name or a mapping with a `name` (got {entry!r})")
            elif name == "auto":
                problems.append(f"{where}: `auto` cannot race itself; name the strategies to race")
            elif name not in STRATEGIES:
                known = [n for n in STRATEGIES.names() if n != "auto"]
                problems.append(f"{where}: unknown strategy {name!r}{did_you_mean(name, known)}; "
                                f"known: {', '.join(known)}")
            else:
                strategy_cls = STRATEGIES.get(name)
                try:
                    strategy_cls.Options.model_validate(section)
                except ValidationError as e:
                    problems += [f"{where}: " + _describe(err, strategy_cls).removeprefix("strategy.")
                                 for err in e.errors()]
            key = candidate_label(name, section) if isinstance(name, str) else repr(entry)
            if key in seen:
                problems.append(f"{where}: {key!r} is listed twice")
            seen.add(key)
        if problems:
            raise RecipeError(problems=problems)  # passes through pydantic: each problem names its candidate
        return value


def candidate_label(name: str, options: dict) -> str:
    """``"freeze:top_blocks=2"`` (the spelling of ``tuneforge compare --strategies``), or the bare name."""
    return ":".join([name] + [f"{k}={v}" for k, v in sorted(options.items())])


@STRATEGIES.register("auto", "race a few strategies on validation (successive halving), then train the winner")
class Auto(Strategy):
    name = "auto"
    Options = AutoOptions

    def candidates(self) -> list[tuple[str, dict]]:
        """``[(label, strategy section as a dict)]``, with ``bn``/``warm_head`` passed down where set."""
        shared = {k: getattr(self.options, k) for k in SHARED if k in self.options.model_fields_set}
        out = []
        for entry in self.options.candidates:
            section = dict(entry) if isinstance(entry, dict) else {"name": entry}
            label = candidate_label(section["name"], {k: v for k, v in section.items() if k != "name"})
            out.append((label, {**shared, **section}))
        return out

    def defaults(self, ctx):
        return {}  # each candidate resolves its own defaults when it runs

    def check(self, block_names: list[str]) -> list[str]:
        problems = []
        for label, section in self.candidates():
            strategy_cls = STRATEGIES.get(section["name"])
            options = strategy_cls.Options.model_validate({k: v for k, v in section.items() if k != "name"})
            problems += [f"strategy.candidates ({label}): {p}" for p in strategy_cls(options).check(block_names)]
        return problems

    def plan(self, layer_map, steps_per_epoch, total_steps) -> Plan:
        raise RecipeError("strategy auto is a race between strategies, not a plan of its own: run it with "
                          "`tuneforge run` (or tuneforge.finetune), which races the candidates")

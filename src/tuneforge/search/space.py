"""A search space: dotted recipe keys mapped to distributions, some only under a condition.

Written in the recipe under ``search:`` (docs/search.md)::

    search:
      space: default                                  # a shipped space to start from, or none
      optimizer.lr_factor: {log_uniform: [0.3, 3]}    # adds or replaces a dimension
      strategy.name: {choice: [linear-probe, lp-ft, lora]}
      strategy.r: {choice: [4, 8, 16], when: {strategy.name: lora}}
      strategy.top_blocks: {int: [1, blocks], when: {strategy.name: freeze}}
      train.epochs: 2                                 # a plain value: fixed in every trial

Distributions: ``log_uniform: [low, high]``, ``uniform: [low, high]``, ``int: [low, high]``
(optional ``step``, ``log: true``), ``choice: [values]``. An ``int`` bound may be ``blocks``:
the number of blocks below the head in the recipe's model. ``when: {key: value or [values]}``
makes a dimension conditional on another dimension's value (or on the recipe's own value of
that key). A trial samples the unconditional dimensions first, then every conditional one
whose condition holds (Optuna's define-by-run), so the parameters of a strategy are only
sampled for trials of that strategy.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..errors import RecipeError
from ..registry import did_you_mean
from .spaces import shipped_space
from ..recipe.schema import SearchSection
from ..recipe.schema import Recipe
from ..errors import TuneforgeError
from ..recipe.load import load_recipe, set_dotted
from ..strategies import Strategy

DISTRIBUTIONS = ("log_uniform", "uniform", "int", "choice")
BLOCKS = "blocks"


class SpaceError(RecipeError):
    """A dimension that cannot be read; the message names the key."""


@dataclass
class Dimension:
    key: str
    kind: str                                   # one of DISTRIBUTIONS, or "fixed"
    low: Any = None
    high: Any = None
    choices: list = field(default_factory=list)
    step: Optional[float] = None
    log: bool = False
    when: dict[str, list] = field(default_factory=dict)
    value: Any = None                           # kind == "fixed"

    def bounds(self, blocks: Optional[int]) -> tuple:
        return tuple(_resolve_bound(b, blocks, self.key) for b in (self.low, self.high))

    def applies(self, current: Callable[[str], Any]) -> bool:
        return all(current(k) in allowed for k, allowed in self.when.items())

    def suggest(self, trial, blocks: Optional[int]):
        if self.kind == "fixed":
            return self.value
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, self.choices)
        low, high = self.bounds(blocks)
        if self.kind == "int":
            return trial.suggest_int(self.key, int(low), int(high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, float(low), float(high), log=self.kind == "log_uniform",
                                   step=self.step)

    def representatives(self, blocks: Optional[int]) -> list:
        """Values that must all be valid recipe settings (the choices, or both ends of a range)."""
        if self.kind == "fixed":
            return [self.value]
        if self.kind == "choice":
            return list(self.choices)
        low, high = self.bounds(blocks if blocks is not None else 1)
        return [int(low), int(high)] if self.kind == "int" else [float(low), float(high)]

    def describe(self) -> str:
        cond = "".join(f" when {k} in {v}" for k, v in self.when.items())
        if self.kind == "fixed":
            return f"{self.key} = {self.value!r}{cond}"
        if self.kind == "choice":
            return f"{self.key}: choice of {', '.join(map(str, self.choices))}{cond}"
        extra = (f", step {self.step:g}" if self.step else "") + (", log" if self.log else "")
        return f"{self.key}: {self.kind} [{self.low}, {self.high}]{extra}{cond}"


def _resolve_bound(bound, blocks: Optional[int], key: str):
    if bound == BLOCKS:
        if blocks is None:
            raise SpaceError(f"search.{key}: 'blocks' needs the model's layer map")
        return blocks
    return bound


def parse_dimension(key: str, spec: Any) -> Dimension:
    """One entry of ``search:``; a :class:`SpaceError` saying what is wrong otherwise."""
    where = f"search.{key}"
    if not isinstance(spec, dict):
        return Dimension(key, "fixed", value=spec)
    spec = dict(spec)
    when_raw = spec.pop("when", None) or {}
    step, log = spec.pop("step", None), bool(spec.pop("log", False))
    kinds = [k for k in spec if k in DISTRIBUTIONS]
    unknown = [k for k in spec if k not in DISTRIBUTIONS]
    if unknown or len(kinds) != 1:
        hint = did_you_mean(unknown[0], DISTRIBUTIONS) if unknown else ""
        raise SpaceError(f"{where}: give exactly one of {', '.join(DISTRIBUTIONS)} (plus optional when, step, log)"
                         + (f"; unknown key {unknown[0]!r}{hint}" if unknown else ""))
    if not isinstance(when_raw, dict) or any("." not in str(k) for k in when_raw):
        raise SpaceError(f"{where}: when must map dotted keys to a value or a list of values, "
                         "e.g. when: {strategy.name: lora}")
    when = {str(k): (list(v) if isinstance(v, (list, tuple)) else [v]) for k, v in when_raw.items()}
    kind = kinds[0]
    args = spec[kind]
    if kind == "choice":
        if not isinstance(args, (list, tuple)) or not args:
            raise SpaceError(f"{where}: choice needs a non-empty list of values")
        if any(isinstance(v, (dict, list)) for v in args):
            raise SpaceError(f"{where}: choice values must be plain values (numbers, strings, true/false, null)")
        return Dimension(key, kind, choices=list(args), when=when)
    if not isinstance(args, (list, tuple)) or len(args) != 2:
        raise SpaceError(f"{where}: {kind} needs [low, high]")
    low, high = args
    for b in (low, high):
        if b != BLOCKS and (isinstance(b, bool) or not isinstance(b, (int, float))):
            raise SpaceError(f"{where}: {kind} bounds must be numbers" + (" or 'blocks'" if kind == "int" else "")
                             + f" (got {b!r})")
    if BLOCKS in (low, high) and kind != "int":
        raise SpaceError(f"{where}: 'blocks' is an int bound (use int: [1, blocks])")
    if kind == "log_uniform" and not (low > 0 and high > 0):
        raise SpaceError(f"{where}: log_uniform bounds must be > 0 (got [{low}, {high}])")
    if BLOCKS not in (low, high) and low > high:
        raise SpaceError(f"{where}: low {low} is above high {high}")
    if kind == "int" and BLOCKS not in (low, high) and (int(low) != low or int(high) != high):
        raise SpaceError(f"{where}: int bounds must be whole numbers (got [{low}, {high}])")
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0):
        raise SpaceError(f"{where}: step must be a positive number (got {step!r})")
    if log and kind != "int":
        raise SpaceError(f"{where}: log: true applies to int (use log_uniform for floats)")
    return Dimension(key, kind, low=low, high=high, step=step, log=log, when=when)


def space_entries(section) -> dict[str, Any]:
    """The dotted-key entries written under ``search:`` (the other keys are study settings)."""
    extra = getattr(section, "model_extra", None) or {}
    return {k: v for k, v in extra.items()}


def build_space(section, task_name: str) -> list[Dimension]:
    """The dimensions of a recipe's search: the shipped space (if any) updated by the recipe's entries."""

    entries = space_entries(section)
    bad = [k for k in entries if "." not in k]
    if bad:
        raise SpaceError(f"search.{bad[0]}: unknown key{did_you_mean(bad[0], SearchSection.model_fields)}; "
                         f"settings: {', '.join(SearchSection.model_fields)}; a search dimension is a dotted "
                         "recipe key such as optimizer.lr_factor")
    name = section.space
    if name == "auto":
        name = "none" if entries else "default"
    merged = dict(shipped_space(name, task_name)) if name != "none" else {}
    merged.update(entries)
    if not merged:
        raise SpaceError("search: the space is empty; add dimensions (e.g. optimizer.lr_factor: "
                         "{log_uniform: [0.3, 3]}) or use space: default")
    return [parse_dimension(k, v) for k, v in merged.items()]


def get_dotted(tree: dict, key: str, default=None):
    node = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def sample(trial, dims: list[Dimension], base: dict, blocks: Optional[int]) -> dict[str, Any]:
    """The overrides of one trial: each dimension whose condition holds, unconditional ones first."""
    chosen: dict[str, Any] = {}

    def current(key):
        return chosen[key] if key in chosen else get_dotted(base, key, _defaults(key))

    pending = [d for d in dims if not d.when] + [d for d in dims if d.when]
    progress = True
    while pending and progress:          # a condition may name a dimension sampled later in the list
        progress = False
        for d in list(pending):
            if any(k in {p.key for p in pending if p is not d} for k in d.when):
                continue                 # wait until what it depends on is settled
            pending.remove(d)
            progress = True
            if d.applies(current):
                chosen[d.key] = d.suggest(trial, blocks)
    return chosen


def _defaults(key: str):
    """The schema's default of a key the recipe does not write (e.g. strategy.name -> full)."""

    model = Recipe
    parts = key.split(".")
    for part in parts[:-1]:
        f = model.model_fields.get(part)
        ann = getattr(f, "annotation", None)
        candidates = [ann, *getattr(ann, "__args__", ())]
        model = next((c for c in candidates if isinstance(c, type) and hasattr(c, "model_fields")), None)
        if model is None:
            return None
    f = model.model_fields.get(parts[-1])
    return None if f is None or f.is_required() else f.get_default(call_default_factory=True)


def space_problems(recipe_tree: dict, section, task_name: str, blocks: Optional[int]) -> list[str]:
    """Every problem of a search space, for ``tuneforge validate``: unreadable dimensions, keys that are not
    recipe settings, values a recipe would refuse (each choice, both ends of each range), conflicts."""

    try:
        dims = build_space(section, task_name)
    except TuneforgeError as e:
        return list(e.problems)
    problems: list[str] = []
    keys = {d.key for d in dims}
    if "optimizer.lr" in keys and "optimizer.lr_factor" in keys:
        problems.append("search: optimizer.lr and optimizer.lr_factor are both searched; search one of them")
    base = copy.deepcopy(recipe_tree)
    base.pop("search", None)
    for d in dims:
        if d.key.startswith("search.") or d.key.startswith("output."):
            problems.append(f"search.{d.key}: {d.key.split('.')[0]} settings cannot be searched")
            continue
        for cond in d.when:
            if cond not in keys and get_dotted(base, cond, _defaults(cond)) is None and _defaults(cond) is None:
                problems.append(f"search.{d.key}: when names {cond}, which is neither searched nor set in the recipe")
        try:
            values = d.representatives(blocks)
        except SpaceError as e:
            problems.append(str(e))
            continue
        for value in values:
            tree = copy.deepcopy(base)
            for cond, allowed in d.when.items():   # put the recipe where the dimension applies
                set_dotted(tree, cond, allowed[0])
            set_dotted(tree, d.key, value)
            if d.key == "optimizer.lr_factor":
                tree.get("optimizer", {}).pop("lr", None)
            try:
                recipe = load_recipe(tree)
                Strategy.from_section(recipe.strategy)
            except TuneforgeError as e:
                for p in e.problems or [str(e)]:
                    problems.append(f"search.{d.key} = {value!r}: {p}")
                break
    return problems

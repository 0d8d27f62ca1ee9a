"""What the recipe's schema asks of the packages above it, without importing them.

Two values of a recipe are settled by vocabulary that lives higher up: ``data.augment`` is expanded
into its canonical list by the augmentation catalogue (``data``), and a recipe without a ``strategy``
gets its task's default strategy (``tasks``). Each is a named hook here; its owner provides it when
imported (``data/checks.py``, ``tasks/checks.py``), and the schema calls it while it validates, so a
recipe built from YAML, from a dict or in Python gets the same explicit values saved with the run.

Example::

    @provide("task.default_strategy")
    def _default_strategy(task_name: str) -> str: ...

    hook("task.default_strategy")("causal-lm")   # -> "lora"
"""
from __future__ import annotations

from typing import Any, Callable

from .owners import load_owners

# name -> what it does (the contract its owner fulfils)
HOOKS: dict[str, str] = {
    "data.augment": "the canonical list of a data.augment value (presets expanded, every option filled in); "
                    "ValueError naming the entry when it is malformed",
    "task.default_strategy": "the strategy name a recipe of this task gets when it leaves `strategy` out",
}
_provided: dict[str, Callable[..., Any]] = {}


def provide(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the function that fulfils hook ``name`` (one owner per hook)."""
    if name not in HOOKS:
        raise ValueError(f"unknown recipe hook {name!r}; known: {', '.join(sorted(HOOKS))}")

    def add(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in _provided:
            raise ValueError(f"recipe hook {name!r} is provided twice")
        _provided[name] = fn
        return fn

    return add


def hook(name: str) -> Callable[..., Any]:
    """The function that fulfils hook ``name``, its owner imported first if need be."""
    load_owners()
    if name not in _provided:
        raise RuntimeError(f"no package provides the recipe hook {name!r} ({HOOKS.get(name, 'unknown hook')})")
    return _provided[name]

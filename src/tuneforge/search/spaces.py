"""Shipped search spaces: ``search.space: default`` makes ``tuneforge search`` work on any recipe.

A space is a mapping of dotted recipe keys to distributions (see :mod:`.space`). Learning
rates are searched as ``optimizer.lr_factor``, a multiple of each strategy's own default
(strategies/defaults.py), because good rates differ by two orders of magnitude between a
solved head, full fine-tuning and LoRA: one absolute range would waste most trials.
A task may register its own variant of a space (``@SEARCH_SPACES.register("default:causal-lm")``);
:func:`shipped_space` prefers it.
"""
from __future__ import annotations

from ..errors import RecipeError
from ..registry import Registry, did_you_mean

SEARCH_SPACES: Registry = Registry("search space")

TRAINING = ["lp-ft", "full", "freeze", "discriminative", "gradual-unfreezing", "lora"]


def _strategy_options() -> dict:
    """Each strategy's own dimensions, sampled only in that strategy's trials."""
    return {
        "optimizer.lr_factor": {"log_uniform": [0.25, 4.0], "when": {"strategy.name": TRAINING}},
        "strategy.top_blocks": {"int": [1, "blocks"], "when": {"strategy.name": "freeze"}},
        "strategy.blocks": {"int": [1, "blocks"], "when": {"strategy.name": "gradual-unfreezing"}},
        "strategy.decay": {"uniform": [0.5, 0.95], "when": {"strategy.name": "discriminative"}},
        "strategy.probe_fraction": {"uniform": [0.1, 0.5], "when": {"strategy.name": "lp-ft"}},
        "strategy.r": {"choice": [4, 8, 16], "when": {"strategy.name": "lora"}},
        "strategy.alpha": {"choice": [8, 16, 32], "when": {"strategy.name": "lora"}},
    }


@SEARCH_SPACES.register("default", "the strategy itself (linear-probe, lp-ft, full, freeze, discriminative, "
                        "gradual-unfreezing, lora), its learning rate as a factor of its default, blocks to train, "
                        "decay, LoRA rank and alpha")
def default_space() -> dict:
    return {"strategy.name": {"choice": ["linear-probe", *TRAINING]}, **_strategy_options()}


@SEARCH_SPACES.register("lr", "only the learning rate of the recipe's own strategy (0.2x to 5x its default)")
def lr_space() -> dict:
    return {"optimizer.lr_factor": {"log_uniform": [0.2, 5.0]}}


@SEARCH_SPACES.register("wide", "default, plus weight decay, warmup and the schedule")
def wide_space() -> dict:
    return {**default_space(),
            "optimizer.weight_decay": {"log_uniform": [1e-4, 0.1]},
            "scheduler.warmup": {"uniform": [0.0, 0.2]},
            "scheduler.name": {"choice": ["linear", "cosine", "constant"]}}


def shipped_space(name: str, task: str) -> dict:
    """The shipped space ``name`` for ``task`` (a task's own variant when one is registered)."""
    for candidate in (f"{name}:{task}", name):
        if candidate in SEARCH_SPACES:
            return SEARCH_SPACES.get(candidate)()
    names = [n for n in SEARCH_SPACES.names() if ":" not in n]
    raise RecipeError(f"search.space: unknown search space {name!r}{did_you_mean(name, names)}; "
                      f"known: {', '.join(names + ['none'])}")

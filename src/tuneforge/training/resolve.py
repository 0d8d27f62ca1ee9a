"""The one place where a run's unset settings get their values, before the trainer is built.

:func:`resolve` first finds out whether the head can be solved (some defaults depend on it; the
engine may forbid it, as DP-SGD does), then fills every unset setting with the strategy's
default for this model and budget (:func:`~tuneforge.strategies.defaults.resolve_defaults`). It
returns the resolved recipe with where each value came from; the trainer takes it as it is and
never changes it, and the run saves it (so a resumed or repeated run uses the same values).

Example::

    engine = PlainEngine()
    resolved = resolve(model, task, recipe, strategy, train_data, engine)
    resolved.defaults["optimizer.lr"]          # (5e-05, "default of full for transformer encoders")
    trainer = Trainer(model, task, resolved, train_data, engine=engine)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import RecipeError
from ..head.start import head_solvability
from ..models import peek_model
from ..recipe.load import recipe_tree, schema_problems
from ..strategies import Strategy
from ..strategies.defaults import FEATURE_ENCODER, DefaultsContext, describe, family_group, resolve_defaults
from .engine import PlainEngine


@dataclass
class Resolved:
    """A recipe and strategy with every unset setting filled in, and what the filling found out."""

    recipe: Any
    strategy: Any
    defaults: dict                    # {dotted key: (value, where it came from)}
    head_solvable: bool
    head_unsolvable_why: str
    features_are_head_inputs: bool    # the model's features are the head's inputs (shared with the baseline)


def step_counts(train, n_examples: int) -> tuple[int, int, int]:
    """``(micro-batches per epoch, optimizer steps per epoch, planned optimizer steps)`` for ``train``."""
    n_batches = math.ceil(n_examples / train.batch_size)
    steps_per_epoch = math.ceil(n_batches / train.grad_accum)
    return n_batches, steps_per_epoch, train.max_steps or train.epochs * steps_per_epoch


def resolve(model, task, recipe, strategy, train_data, engine=None) -> Resolved:
    """Fill ``recipe``'s unset settings with ``strategy``'s defaults (see strategies/defaults.py);
    ``strategy`` learns whether its head is solvable and gets the resolved options."""
    engine = engine or PlainEngine()
    wanted = strategy.options.warm_head
    solvable, why, shared = False, "warm_head: false", False
    if engine.head_unsolvable_why is not None:
        why = engine.head_unsolvable_why
    elif wanted is not False:
        device = next(model.net.parameters()).device
        solvable, why, shared = head_solvability(model, task, train_data, device)
    if wanted is True and not solvable:
        raise RecipeError(f"strategy.warm_head: true, but this head cannot be solved: "
                          f"{why}; set strategy.warm_head: false")
    strategy.head_solvable = solvable
    _, steps_per_epoch, total_steps = step_counts(recipe.train, len(train_data))
    ctx = DefaultsContext.for_model(model, steps_per_epoch, total_steps, solvable)
    recipe, strategy, defaults = resolve_defaults(recipe, strategy, ctx)
    if engine.head_unsolvable_why is not None and "strategy.warm_head" in defaults:
        defaults["strategy.warm_head"] = (False, why)
    return Resolved(recipe, strategy, defaults, solvable, why, shared)


def resolved_defaults(source, overrides=()) -> list[str]:
    """The settings a valid recipe leaves unset and what they will be, as far as is known without
    loading weights or data: one line each (``optimizer.lr 5e-05 (default of full for ...)``).

    Values that depend on the step budget or on the head's inputs (stage lengths, whether the
    head can be solved) are settled when training starts and printed with the plan.
    """
    recipe, problems = schema_problems(recipe_tree(source, overrides))
    if recipe is None or problems:
        return []
    info = peek_model(recipe.model)
    strategy = Strategy.from_section(recipe.strategy)
    ctx = DefaultsContext(family_group(info.family, list(info.block_names)), len(info.block_names),
                          feature_encoder=FEATURE_ENCODER in info.block_names)
    _, _, provenance = resolve_defaults(recipe, strategy, ctx)
    return describe(provenance)

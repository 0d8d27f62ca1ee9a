"""Which recipes a federated run accepts, and the recipe each client trains with.

Federated averaging combines a *fixed* set of parameters trained by SGD on each client's own
rows, so everything that needs the whole data set in one place, or changes the trained set
mid-run, is refused here, all problems in one message, before any model is loaded
(:func:`recipe_problems`) or, for what only the built model can tell, before any run folder
exists (:func:`prepared_problems`).

Decisions (docs/federated.md):

* a solved head (``warm_head``, L-BFGS on frozen features) needs every client's features in
  one place, which federated learning exists to avoid; ``warm_head: auto`` becomes ``false``
  (the head trains by SGD like the rest) and ``warm_head: true`` is refused;
* tasks without one class per row (regression, multi-label, token classification, causal LM)
  are refused: the clients' shares are dealt out by label;
* k-fold, the strategy race (``strategy: auto``), ``optimizer.lr: find``, early stopping and
  ``evaluate.random_init`` all train or tune centrally and are refused;
* strategies whose trainable set changes between stages (gradual unfreezing, LP-FT...) are
  refused: what travels is fixed when the run starts.
"""
from __future__ import annotations

import numpy as np

from ..recipe import Recipe
from ..tasks import TASKS
from .options import FederatedOptions


def recipe_problems(recipe: Recipe) -> list[str]:
    """Problems visible in the recipe alone (no data or model loaded)."""
    out = []
    task = TASKS.get(recipe.task)
    if not task.has_classes:
        out.append(f"task {recipe.task!r}: federated runs deal the training rows out to clients by class, and this "
                   "task has no classes; use a classification task")
    if recipe.evaluate.folds:
        out.append("evaluate.folds: k-fold cross-validation is not federated; remove it (a federated run tests the "
                   "final global model on the test split)")
    if recipe.strategy.name == "auto":
        out.append("strategy: auto races strategies on the pooled data; name one strategy (e.g. lora or "
                   "linear-probe)")
    if recipe.optimizer.lr == "find":
        out.append("optimizer.lr: find runs a range test on the pooled data; give a number")
    if recipe.train.early_stopping is not None:
        out.append("train.early_stopping: clients train a fixed number of local epochs or steps per round; "
                   "remove it and choose --rounds")
    if recipe.evaluate.random_init:
        out.append("evaluate.random_init: the random-init ablation trains centrally; remove it")
    if getattr(recipe.strategy, "warm_head", "auto") is True:
        out.append("strategy.warm_head: true solves the head on all clients' features in one place; federated "
                   "heads train by SGD (remove it or set false)")
    if recipe.data.validation is None:
        out.append("data.validation: a federated run scores the global model on validation after every round; "
                   "give a validation file or fraction")
    return out


def prepared_problems(p, options: FederatedOptions, trainable_by_stage: list[frozenset]) -> list[str]:
    """Problems only the loaded data and built model can show."""
    out = []
    targets = np.asarray(p.data.train.targets)
    if targets.ndim != 1 or not np.issubdtype(targets.dtype, np.integer):
        out.append(f"task {p.recipe.task!r}: its rows do not carry one class each (multi-label or per-token "
                   "labels), so they cannot be dealt out by class; federated runs take single-label "
                   "classification")
    elif options.clients > len(targets):
        out.append(f"--clients {options.clients}: the training split has {len(targets)} rows; every client needs "
                   f"at least one")
    if len(set(trainable_by_stage)) > 1:
        out.append(f"strategy {p.recipe.strategy.name!r}: its stages train different parameters "
                   f"({len(trainable_by_stage)} stages), but the parameters that travel are fixed for the whole "
                   "run; use a single-stage strategy (lora, linear-probe, bitfit, freeze, full...)")
    if trainable_by_stage and not trainable_by_stage[0]:
        out.append(f"strategy {p.recipe.strategy.name!r} trains no parameter by SGD here; nothing would travel")
    return out


def client_recipe(recipe: Recipe, options: FederatedOptions) -> Recipe:
    """The recipe one client trains with in each round: local epochs (or steps), SGD head, no
    best-weight restore (a round ends with its last weights), frozen-prefix cache off unless asked."""
    train = recipe.train.model_copy(update={
        "epochs": options.local_epochs, "max_steps": options.local_steps, "restore_best": False,
        "save_every_steps": None, "cache_frozen": "off" if recipe.train.cache_frozen == "auto" else
        recipe.train.cache_frozen})
    strategy = type(recipe.strategy).model_validate({**recipe.strategy.model_dump(), "warm_head": False})
    return recipe.model_copy(update={"train": train, "strategy": strategy})

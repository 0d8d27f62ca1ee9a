"""Check a recipe against the world before any heavy work: registries, files, columns, model shape.

Collects every problem and reports them together; loads no model weights and no full data set.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import RecipeError, TuneforgeError
from .schema import Recipe


def recipe_problems(recipe: Recipe) -> list[str]:
    from ..data import check_data
    from ..evaluation.metrics import METRICS
    from ..models import peek_model
    from ..regularisers import build_regularisers
    from ..strategies import Strategy
    from ..strategies.base import feature_encoder_problems
    from ..tasks import TASKS
    from ..training import OPTIMIZERS, SCHEDULERS

    problems: list[str] = []
    task = None
    if recipe.task not in TASKS:
        problems.append("task: " + TASKS.unknown_message(recipe.task))
    else:
        task = TASKS.get(recipe.task)
    strategy = None
    try:
        strategy = Strategy.from_section(recipe.strategy)
    except TuneforgeError as e:
        problems += [p if p.startswith("strategy") else f"strategy.name: {p}" for p in e.problems]
    if strategy is not None:
        problems += strategy.recipe_problems(recipe)
    try:
        build_regularisers(recipe.regularisers)
    except TuneforgeError as e:
        problems += e.problems
    for key, registry, value in (("optimizer.name", OPTIMIZERS, recipe.optimizer.name),
                                 ("scheduler.name", SCHEDULERS, recipe.scheduler.name)):
        if value not in registry:
            problems.append(f"{key}: {registry.unknown_message(value)}")
    metric = recipe.evaluate.metric
    if metric is not None and metric not in METRICS:
        problems.append(f"evaluate.metric: {METRICS.unknown_message(metric)}")
    if task is not None and metric is not None and metric in METRICS and metric not in task.metric_names():
        problems.append(f"evaluate.metric: {metric!r} is not a {task.metric_kind} metric; "
                        f"choose one of: {', '.join(task.metric_names())}")
    if task is not None:
        problems += check_data(recipe.data, task)
        balance = recipe.train.class_balance
        if balance in ("weights", "sampling") and balance not in task.class_balance_choices:
            problems.append(f"train.class_balance: {task.name} supports "
                            f"{', '.join(('none', 'auto') + task.class_balance_choices)}, not {balance!r}")
        if recipe.train.label_smoothing and not task.smooths_labels:
            problems.append(f"train.label_smoothing: {task.name} has no class targets to smooth (only single-label "
                            f"classification and token classification do); remove it")
        if recipe.train.early_stopping is not None and recipe.data.validation is None:
            problems.append("train.early_stopping: needs a validation split (data.validation)")
    if recipe.train.cache_frozen == "on" and recipe.train.compile:
        problems.append("train.cache_frozen: 'on' swaps module outputs per batch, which train.compile's graph would "
                        "re-trace; set train.cache_frozen: auto (off under compile) or drop train.compile")
    if recipe.train.cache_frozen == "on" and recipe.data.augment and recipe.data.augment_views is None:
        problems.append("train.cache_frozen: 'on' records the frozen blocks' outputs once per image, but data.augment "
                        "changes the images in every epoch (the cache would replay one fixed view); set "
                        "train.cache_frozen: auto (the cache is then off), set data.augment_views: K to cache K "
                        "fixed views per image, or drop data.augment")
    try:
        info = peek_model(recipe.model)
    except TuneforgeError as e:
        problems += [p if p.startswith("model") else f"model.name: {p}" for p in e.problems]
        info = None
    if info is not None:
        from ..data.modalities import MODALITIES
        needs = MODALITIES.get(task.modality).model_modality if task is not None else None
        if task is not None and info.modality and info.modality != needs:
            problems.append(f"model.name: {recipe.model.name!r} is a {info.modality} model, "
                            f"but task {recipe.task!r} needs a {needs} model")
        if strategy is not None and info.block_names:
            problems += strategy.check(list(info.block_names))
            problems += feature_encoder_problems(strategy.options, list(info.block_names))
    from ..privacy import privacy_problems
    problems += privacy_problems(recipe, task, strategy, info.block_names if info is not None else None)
    if recipe.optimizer.lr is not None and recipe.optimizer.lr_factor != 1.0:
        problems.append("optimizer.lr_factor: multiplies the default learning rate, but optimizer.lr is set; "
                        "set one of them")
    if recipe.strategy.name == "auto":
        from ..modes.race import race_problems
        problems += race_problems(recipe)
    from ..evaluation.checks import evaluate_problems
    problems += evaluate_problems(recipe)
    if recipe.search is not None and task is not None:
        from ..search.space import space_problems
        blocks = max(1, len(info.block_names) - 1) if info is not None and info.block_names else None
        problems += space_problems(recipe.model_dump(mode="python"), recipe.search, recipe.task, blocks)
    from ..training.trackers import tracker_problems
    problems += tracker_problems(recipe.output)
    from ..continual.sequence import continual_problems
    problems += [p for p in continual_problems(recipe) if p not in problems]
    out = Path(recipe.output.dir)
    if out.exists() and not out.is_dir():
        problems.append(f"output.dir: {out} exists and is not a folder")
    return problems


def check_recipe(recipe: Recipe) -> None:
    problems = recipe_problems(recipe)
    if problems:
        raise RecipeError(problems=problems)


def all_problems(source, overrides=()) -> list[str]:
    """Every problem of a recipe: schema (types, unknown keys) and world (files, columns, model) together."""
    from .load import recipe_tree, schema_problems

    recipe, problems = schema_problems(recipe_tree(source, overrides))
    if recipe is not None:
        problems += [p for p in recipe_problems(recipe) if p not in problems]
    return problems


def resolved_defaults(source, overrides=()) -> list[str]:
    """The settings a valid recipe leaves unset and what they will be, as far as is known without
    loading weights or data: one line each (``optimizer.lr 5e-05 (default of full for ...)``).

    Values that depend on the step budget or on the head's inputs (stage lengths, whether the
    head can be solved) are settled when training starts and printed with the plan.
    """
    from ..models import peek_model
    from ..strategies import Strategy
    from ..strategies.defaults import FEATURE_ENCODER, DefaultsContext, describe, family_group, resolve_defaults
    from .load import recipe_tree, schema_problems

    recipe, problems = schema_problems(recipe_tree(source, overrides))
    if recipe is None or problems:
        return []
    info = peek_model(recipe.model)
    strategy = Strategy.from_section(recipe.strategy)
    ctx = DefaultsContext(family_group(info.family, list(info.block_names)), len(info.block_names),
                          feature_encoder=FEATURE_ENCODER in info.block_names)
    _, _, provenance = resolve_defaults(recipe, strategy, ctx)
    return describe(provenance)

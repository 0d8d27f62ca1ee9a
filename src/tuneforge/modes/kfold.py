"""``evaluate.folds: K`` (``--folds K``): K full fine-tunes, each tested on its held-out fold.

All cleaned rows of ``data.train`` are cut into K stratified folds (seeded). For fold i
the model is fine-tuned on the other folds (a ``data.validation`` fraction of them is held
out for validation, stratified) and tested on fold i. Each fold is a complete run folder
``fold-i/`` (metrics, history, report); the parent folder holds ``metrics.json`` with
``folds`` (per metric: mean, std, values), ``folds_baseline`` (the linear probe) and
``per_fold`` (each fold's metrics), plus a report linking the folds.
"""
from __future__ import annotations

import time
from pathlib import Path

from ..data import load_data
from ..data.bundle import DataBundle
from ..data.splits import stratified_split
from ..evaluation.folds import kfold_indices, summarise_folds
from ..recipe import Recipe, check_recipe, recipe_to_yaml
from ..tasks import TASKS
from ..training.run_folder import new_run_dir, set_status, write_text
from .fold_diagnostics import fold_diagnostics, print_folds_table
from ..runs.finish import finish_parent
from ..runs.pipeline import prepare, train_and_finish
from ..artefacts.result import FinetuneResult
from ..report import write_report_quietly
from ..terminal import print_path


def fold_bundles(recipe: Recipe) -> list[DataBundle]:
    """The K data bundles (train / validation / test) of a cross-validation."""
    task = TASKS.get(recipe.task)
    seed, k = recipe.train.seed, recipe.evaluate.folds
    whole = load_data(recipe.data.model_copy(update={"validation": None, "test": None}), task, seed)
    data = whole.train
    bundles = []
    for i, (train_idx, test_idx) in enumerate(kfold_indices(data.targets, k, seed, task.stratify_key(data.targets) is not None)):
        train, validation = data.subset(train_idx), None
        fraction = recipe.data.validation
        if isinstance(fraction, float):
            strat = task.stratify_key(train.targets)
            keep, held = stratified_split(strat, len(train), fraction, seed, label_names=whole.label_names,
                                          what=f"a validation split of fold {i + 1}")
            train, validation = train.subset(keep), train.subset(held)
        bundles.append(DataBundle(modality=whole.modality, train=train, validation=validation,
                                  test=data.subset(test_idx), label_names=whole.label_names,
                                  cleaning=whole.cleaning,
                                  description={**whole.description, "fold": i + 1, "folds": k}))
    return bundles


def run_folds(recipe: Recipe, console, quiet: bool = False):
    """Run every fold; return a FinetuneResult whose metrics are the cross-validation summary."""

    started = time.perf_counter()
    check_recipe(recipe)
    bundles = fold_bundles(recipe)
    k = len(bundles)
    first = prepare(recipe, console, data=bundles[0])      # a bad model fails before any folder exists
    name = (recipe.output.name or recipe.name or f"{recipe.task}-{recipe.strategy.name}") + f"-cv{k}"
    parent = new_run_dir(recipe.output.dir, name)
    write_text(parent / "recipe.yaml", recipe_to_yaml(recipe))
    set_status(parent, "running")
    per_fold, fold_dirs, result = [], [], None
    for i, bundle in enumerate(bundles):
        console.rule(f"fold {i + 1} of {k}")
        p = first if i == 0 else prepare(recipe, console, data=bundle)
        fold_dir = parent / f"fold-{i + 1}"
        fold_dir.mkdir()
        result = train_and_finish(p, fold_dir, console, quiet, False)
        per_fold.append(result.metrics)
        fold_dirs.append(fold_dir.name)
    metrics = {"task": recipe.task, "model": recipe.model.name, "strategy": per_fold[0]["strategy"],
               "k": k, "folds": summarise_folds([m["test"] for m in per_fold]),
               "folds_baseline": summarise_folds([m["baseline"] for m in per_fold]) if per_fold[0]["baseline"] else {},
               **fold_diagnostics(per_fold, recipe),
               "per_fold": per_fold, "fold_dirs": fold_dirs, "columns": per_fold[0].get("columns"),
               "data": per_fold[0]["data"],
               "seconds_total": time.perf_counter() - started, "run_dir": str(parent)}
    finish_parent(parent, metrics, console, _print, write_report_quietly if recipe.evaluate.report else None)
    return FinetuneResult(recipe=recipe, metrics=metrics, run_dir=Path(parent), model=result.model,
                          task=result.task, label_names=result.label_names, data_section=recipe.data)


def _print(console, metrics: dict) -> None:
    print_folds_table(console, metrics)
    print_path(console, "cross-validation folder", metrics["run_dir"])

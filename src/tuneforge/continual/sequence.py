"""A continual recipe as a sequence of ordinary steps: checks, each task's data, each step's recipe.

``tasks:`` lists the tasks in training order; each keeps some classes of the recipe's data
(``classes``) and may override data settings (``data``). The head's label space
(``continual.head``) is either *shared* (the union of every task's classes, in order of first
appearance: class- or domain-incremental learning) or *per-task* (each task its own classes
and its own head: task-incremental learning). Everything else in the recipe (model, strategy,
regularisers, optimizer, train...) applies to every step.

Everything that can be wrong with the recipe or its data is found here, before any folder.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import ValidationError

from ..data.bundle import DataBundle, Split
from ..data.packaged import packaged_classes
from ..errors import RecipeError, TuneforgeError
from ..recipe.schema import ContinualSection, DataSection, Recipe
from ..registry import did_you_mean
from ..regularisers import build_regularisers
from ..tasks import TASKS
from ..data import check_data, load_data
from ..runs.hooks import _key


@dataclass
class TaskData:
    """One task of the sequence: its name, its head's classes, its splits (targets in the head's ids)."""

    name: str
    section: DataSection
    labels: list[str]          # the classes of the head this task is trained and scored with
    own: list[str]             # the task's own classes
    bundle: DataBundle


def settings(recipe: Recipe) -> ContinualSection:
    return recipe.continual or ContinualSection()


def task_section(recipe: Recipe, i: int) -> DataSection:
    """The data section of task ``i``: the recipe's, with the task's ``data`` overrides."""
    return DataSection.model_validate({**recipe.data.model_dump(), **recipe.tasks[i].data})


def continual_problems(recipe: Recipe) -> list[str]:
    """What makes a continual recipe impossible, found without loading data or weights."""

    if not recipe.tasks:
        return ["continual: settings without tasks; list the tasks to train in order under tasks:"] \
            if recipe.continual is not None else []
    problems = []
    if len(recipe.tasks) < 2:
        problems.append("tasks: a continual sequence needs at least two tasks")
    names = [t.name for t in recipe.tasks]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"tasks: the name {name!r} is used twice; every task needs its own name")
    task = TASKS.get(recipe.task) if recipe.task in TASKS else None
    if task is not None and not task.scores_accuracy:
        problems.append(f"tasks: continual sequences are scored by accuracy, which {recipe.task} does not have; "
                        "use a single-label classification task (text-, image- or audio-classification)")
    for key, why in (("strategy.name", recipe.strategy.name == "auto" and "a strategy race"),
                     ("evaluate.folds", recipe.evaluate.folds and "cross-validation"),
                     ("search", recipe.search is not None and "a search (run `tuneforge search` on one task)")):
        if why:
            problems.append(f"{key}: {why} cannot run inside a continual sequence")
    head = settings(recipe).head
    for i, t in enumerate(recipe.tasks):
        section = None
        try:
            section = task_section(recipe, i)
        except ValidationError as e:
            for err in e.errors():
                key = f"tasks[{i}].data.{'.'.join(map(str, err['loc']))}"
                problems.append(f"{key}: unknown data setting{did_you_mean(str(err['loc'][-1]), DataSection.model_fields)}"
                                if err["type"] == "extra_forbidden" else f"{key}: {err['msg']}")
        known = packaged_classes(section.train) if section is not None else None
        if t.classes is not None and known is not None:  # a packaged data set: its classes are known now
            problems += [_unknown_class(i, c, known) for c in t.classes if c not in known]
        if t.classes is not None:
            twice = sorted({c for c in t.classes if t.classes.count(c) > 1})
            if twice:
                problems.append(f"tasks[{i}].classes: {', '.join(map(repr, twice))} listed twice")
            if head == "per-task" and len(set(t.classes)) < 2:
                problems.append(f"tasks[{i}].classes: a task with its own head needs at least two classes")
    if head == "per-task" and settings(recipe).replay is not None:
        problems.append("continual.replay: replayed examples belong to earlier tasks' heads, which head: per-task "
                        "does not train together; use head: shared, or drop replay")
    try:
        regs = build_regularisers(recipe.regularisers)
    except TuneforgeError:
        regs = []  # reported by the recipe check
    for i, reg in enumerate(regs):
        o = reg.options
        if reg.name == "ewc" and head == "per-task" and o.fisher == "empirical" and o.data is None:
            problems.append(f"regularisers[{i}].fisher: 'empirical' needs labels the current head knows; earlier "
                            "tasks have their own heads (head: per-task), so use fisher: sampled")
        if reg.name == "distillation" and o.target == "logits":
            problems.append(f"regularisers[{i}].target: in a continual sequence the teacher is the previous step's "
                            "model and is compared on features; use target: features or auto")
    return problems


def load_tasks(recipe: Recipe) -> list[TaskData]:
    """Every task's data, filtered to its classes, with targets in its head's label ids (all problems at once)."""

    problems = continual_problems(recipe)
    if problems:
        raise RecipeError(problems=problems)
    task = TASKS.get(recipe.task)
    loaded, raw = {}, []
    for i, t in enumerate(recipe.tasks):
        section = task_section(recipe, i)
        step_problems = check_data(section, task) if t.data else []  # the recipe's own data: checked already
        if step_problems:
            problems += [f"tasks[{i}] ({t.name}): {p}" for p in step_problems]
            continue
        key = _key(section.model_dump())  # tasks that read the same data load it once
        if key not in loaded:
            loaded[key] = load_data(section, task, recipe.train.seed)
        bundle = loaded[key]
        own = list(t.classes) if t.classes is not None else list(bundle.label_names)
        unknown = [_unknown_class(i, c, bundle.label_names) for c in own if c not in bundle.label_names]
        if unknown:
            problems += [p for p in unknown if p not in problems]
            continue
        raw.append((t.name, section, own, bundle))
    if problems:
        raise RecipeError(problems=problems)
    union = list(dict.fromkeys(c for _, _, own, _ in raw for c in own))
    if settings(recipe).head == "shared" and len(union) < 2:
        raise RecipeError("tasks: a shared head needs at least two classes over all tasks")
    out = []
    for i, (name, section, own, bundle) in enumerate(raw):
        labels = union if settings(recipe).head == "shared" else own
        out.append(TaskData(name, section, labels, own, _restricted(bundle, own, labels, f"tasks[{i}] ({name})")))
    return out


def _unknown_class(i: int, name: str, known: list[str]) -> str:
    return (f"tasks[{i}].classes: {name!r} is not a class of the task's data{did_you_mean(name, known)} "
            f"(classes: {', '.join(known)})")


def _restricted(bundle: DataBundle, keep: list[str], labels: list[str], where: str) -> DataBundle:
    """``bundle`` with only the rows of classes ``keep``, targets renumbered into ``labels``."""
    ids = np.full(len(bundle.label_names), -1, dtype=np.int64)
    for c in keep:
        ids[bundle.label_names.index(c)] = labels.index(c)
    splits = {}
    for role in ("train", "validation", "test"):
        split = getattr(bundle, role)
        if split is None:
            splits[role] = None
            continue
        rows = np.flatnonzero(ids[split.targets] >= 0)
        if len(rows) == 0:
            raise RecipeError(f"{where}: its {role} split has no example of {', '.join(keep)}")
        part = split.subset(rows)
        splits[role] = Split(part.inputs, ids[part.targets])
    description = {**bundle.description, "continual_classes": list(keep)}
    return DataBundle(bundle.modality, splits["train"], splits["validation"], splits["test"], list(labels),
                      list(bundle.cleaning), description)


def step_recipe(recipe: Recipe, i: int) -> Recipe:
    """The ordinary recipe that step ``i`` runs: the recipe's settings with task ``i``'s data, no sequence."""
    name = f"{recipe.name or recipe.output.name or 'continual'}-{recipe.tasks[i].name}"
    return recipe.model_copy(update={"tasks": None, "continual": None, "data": task_section(recipe, i),
                                     "name": name})

"""Run a continual sequence: one ordinary run per task, each from the last, scored after every step.

The sequence folder holds ``recipe.yaml`` (the whole recipe, tasks included), ``status.json``,
``continual.json`` (progress: the accuracy matrix's rows so far and each finished step),
``continual_state.pt`` (the weights after the last finished step, and per-task heads),
``steps/NN-<task>/`` (an ordinary run folder per step: its own recipe, checkpoints, metrics,
report) and, at the end, ``metrics.json`` and ``report.html`` for the whole sequence.

``tuneforge run --resume FOLDER`` continues a killed or interrupted sequence: finished steps
are not run again (their weights and rows are read back), the step that was running resumes
from its own checkpoint, exactly as a single run does.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from rich.console import Console

from ..data.bundle import DataBundle
from ..errors import TuneforgeError
from ..recipe import Recipe, check_recipe, load_recipe, recipe_to_yaml
from ..training.run_folder import new_run_dir, read_status, set_status, write_json, write_text
from ..runs.finish import finish_parent
from ..runs.hooks import RunHooks
from ..training.checkpoint import latest_checkpoint
from .metrics import sequence_metrics
from .replay import concat_splits, replay_split
from .report import print_sequence, write_sequence_report
from .scoring import Scorer, carry_weights, cpu_state, head_keys
from .sequence import TaskData, load_tasks, settings, step_recipe
from ..runs import pipeline
from ..tasks import TASKS
from ..artefacts.result import FinetuneResult

PROGRESS, STATE = "continual.json", "continual_state.pt"


@dataclass
class StepContext:
    """What a step's regularisers know beyond an ordinary run (``Prepared.continual``).

    ``pretrained``: the original pre-trained parameters (L2-SP's anchors at every step);
    ``previous_train``: the earlier tasks' training rows (EWC's reference data), None at step 1.
    """

    index: int
    pretrained: dict
    previous_train: Optional[object]


def run_sequence(recipe: Recipe, console: Console, quiet: bool = False):
    """Train ``recipe.tasks`` in order; return a :class:`~tuneforge.artefacts.result.FinetuneResult` of the sequence."""
    check_recipe(recipe)
    tasks = load_tasks(recipe)  # every problem of every task before the folder exists
    name = recipe.output.name or recipe.name or f"continual-{recipe.strategy.name}"
    folder = new_run_dir(recipe.output.dir, name)
    write_text(folder / "recipe.yaml", recipe_to_yaml(recipe))
    write_json(folder / PROGRESS, {"tasks": [t.name for t in tasks], "head": settings(recipe).head,
                                   "rows": [], "steps": []})
    return _guarded(recipe, tasks, folder, console, quiet)


def resume_sequence(folder: Path, console: Console, quiet: bool = False):
    """Continue a sequence folder: finished steps are kept, the running step resumes from its checkpoint."""
    folder = Path(folder)
    if read_status(folder).get("state") == "completed":
        raise TuneforgeError(f"--resume {folder}: this sequence already completed; start a new one with "
                             f"`tuneforge run {folder}/recipe.yaml`")
    recipe = load_recipe(folder / "recipe.yaml")
    check_recipe(recipe)
    return _guarded(recipe, load_tasks(recipe), folder, console, quiet)


def _guarded(recipe, tasks, folder, console, quiet):
    hint = f"tuneforge run --resume {folder}"
    set_status(folder, "running")
    try:
        return _continue(recipe, tasks, folder, console, quiet)
    except KeyboardInterrupt:
        set_status(folder, "interrupted", resume=hint)
        raise
    except BaseException as e:
        set_status(folder, "failed", error=str(e), resume=hint)
        raise


def _continue(recipe: Recipe, tasks: list[TaskData], folder: Path, console: Console, quiet: bool):

    started = time.perf_counter()
    task, cfg = TASKS.get(recipe.task), settings(recipe)
    shared = cfg.head == "shared"
    progress = _read(folder / PROGRESS)
    scorer = Scorer(recipe, task, tasks, shared)
    pretrained = {k: v.detach().clone() for k, v in scorer.model_for(0).net.named_parameters()}
    saved = torch.load(folder / STATE, weights_only=True) if (folder / STATE).is_file() else None
    state, heads = (saved["state"], saved["heads"]) if saved else (None, {})
    if not progress["rows"]:
        progress["rows"].append(scorer.row(None, {}))  # row 0: before any training
        write_json(folder / PROGRESS, progress)
    for k in range(len(progress["steps"]), len(tasks)):
        t = tasks[k]
        step_dir = folder / "steps" / f"{k + 1:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', t.name)}"
        console.print(f"[bold]continual[/bold] step {k + 1}/{len(tasks)}: {t.name} ({', '.join(t.own)})")
        if saved is not None and saved["done"] == k + 1:  # killed after the step's weights, before its row
            metrics = _read(step_dir / "metrics.json")
        else:
            previous = [tasks[j].bundle.train for j in range(k)]
            hooks = RunHooks(data=_step_data(t, previous, cfg),
                             start=lambda m, s=state: carry_weights(s, m, with_head=shared),
                             continual=StepContext(k, pretrained, concat_splits(previous) if previous else None))
            resumable = step_dir.is_dir() and latest_checkpoint(step_dir / "checkpoints") is not None \
                and read_status(step_dir).get("state") != "completed"
            if step_dir.is_dir() and not resumable:
                shutil.rmtree(step_dir)   # stopped before its first checkpoint: the step starts again
            result = pipeline.run(step_recipe(recipe, k), console, quiet, resume_dir=step_dir if resumable else None,
                                  run_dir=None if resumable else step_dir, hooks=hooks)
            metrics, state = result.metrics, cpu_state(result.model)
            if not shared:
                heads[k] = {key: state[key] for key in head_keys(result.model, state)}
            _save_state(folder / STATE, {"done": k + 1, "state": state, "heads": heads})
        progress["rows"].append(scorer.row(state, heads))
        progress["steps"].append({"task": t.name, "classes": t.own, "run_dir": str(step_dir),
                                  "test": metrics.get("test", {}), "train_seconds": metrics["train"]["seconds"],
                                  "train_examples": metrics["data"]["sizes"]["train"]})
        write_json(folder / PROGRESS, progress)
        saved = None
    summary = {"tasks": [t.name for t in tasks], "classes": [t.own for t in tasks], "head": cfg.head,
               "replay": cfg.replay.model_dump() if cfg.replay else None,
               "matrix": progress["rows"], **sequence_metrics(progress["rows"]), "steps": progress["steps"],
               "fwt_reference": "row 0: the pre-trained model with untrained heads"}
    metrics = {"task": recipe.task, "model": recipe.model.name, "strategy": recipe.strategy.model_dump(),
               "regularisers": [r.model_dump() for r in recipe.regularisers], "continual": summary,
               "seconds_total": time.perf_counter() - started, "run_dir": str(folder)}
    finish_parent(folder, metrics, console, print_sequence, write_sequence_report if recipe.evaluate.report else None)
    model = scorer.model_for(len(tasks) - 1)
    carry_weights(state, model, with_head=True)
    return FinetuneResult(recipe=recipe, metrics=metrics, run_dir=folder, model=model, task=task,
                          label_names=tasks[-1].labels, data_section=tasks[-1].section)


def _step_data(t: TaskData, previous: list, cfg) -> DataBundle:
    """Task ``t``'s data, with the replay buffer of earlier tasks' rows added to its training split."""
    if cfg.replay is None or not previous:
        return t.bundle
    buffer = replay_split(previous, cfg.replay.size, cfg.replay.seed)
    b = t.bundle
    notes = list(b.description.get("notes", [])) + [f"replay: {len(buffer)} training examples of earlier tasks "
                                                    f"(reservoir of {cfg.replay.size}) added to train"]
    return DataBundle(b.modality, concat_splits([b.train, buffer]), b.validation, b.test, b.label_names,
                      b.cleaning, {**b.description, "notes": notes, "replayed": len(buffer)})


def _save_state(path: Path, obj) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _read(path: Path) -> dict:
    import json
    return json.loads(path.read_text(encoding="utf-8"))

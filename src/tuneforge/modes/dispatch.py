"""Which mode a recipe runs in, chosen in one place: the command line and the Python API call this.

A recipe is one of:

* a **continual sequence** (``tasks:``): one run per task, each from the last (:mod:`tuneforge.continual`);
* a **strategy race** (``strategy.name: auto``): the candidates raced on validation, then the winner
  run in full (:mod:`.race`);
* a **cross-validation** (``evaluate.folds: K``): K runs, each tested on its held-out fold (:mod:`.kfold`);
* otherwise **one run** (:mod:`tuneforge.runs.pipeline`), which knows none of the modes above.

``tuneforge search`` (:mod:`tuneforge.search`) and ``tuneforge federate`` (:mod:`tuneforge.federated`) are
modes chosen by their own command; a search trial runs its recipe through :func:`run` with the trial's
folder and hooks. ``tuneforge compare`` (:mod:`.compare`) runs one recipe per strategy through :func:`run`.

Resuming works the same way round: :func:`resume` recognises a mode's folder by what it holds and
hands it to that mode, and a plain run folder to the one-run pipeline.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from rich.console import Console

from ..continual import resume_sequence, run_sequence
from ..recipe import Recipe
from ..runs import pipeline
from ..runs.hooks import RunHooks
from ..runs.phases import PhaseClock
from ..training.distributed import is_main_process
from .kfold import run_folds
from .race import resume_race, run_race
from .race_report import race_record, recipe_note


def mode_of(recipe: Recipe, run_dir: Optional[Path] = None) -> str:
    """``continual``, ``race``, ``folds`` or ``run``: what :func:`run` does with ``recipe``.

    A race's own rounds and a search trial pass the folder to run in (``run_dir``); a race is then not
    started again (the candidate strategy is already chosen), while the other modes still apply.
    """
    if recipe.tasks:
        return "continual"
    if recipe.strategy.name == "auto" and run_dir is None:
        return "race"
    if recipe.evaluate.folds:
        return "folds"
    return "run"


def run(recipe: Recipe, console: Optional[Console] = None, quiet: bool = False, run_dir: Optional[Path] = None,
        hooks: Optional[RunHooks] = None, clock: Optional[PhaseClock] = None):
    """Run ``recipe`` in its mode; return a :class:`~tuneforge.artefacts.result.FinetuneResult`.

    ``run_dir``, ``hooks``, ``clock``: as for :func:`tuneforge.runs.pipeline.run` (a search trial's folder
    and shared data, the command line's process clock).
    """
    mode = mode_of(recipe, run_dir)
    if mode == "run":
        return pipeline.run(recipe, console, quiet, run_dir=run_dir, hooks=hooks, clock=clock)
    console = console if console is not None and is_main_process() else Console(quiet=quiet or not is_main_process())
    if mode == "continual":
        return run_sequence(recipe, console, quiet)
    if mode == "race":
        return run_race(recipe, console, quiet, hooks)
    return run_folds(recipe, console, quiet)


def resume(run_dir: Path, console: Optional[Console] = None, quiet: bool = False,
           clock: Optional[PhaseClock] = None):
    """Continue a killed or interrupted run folder of any mode from where it stopped."""
    run_dir = Path(run_dir)
    if (run_dir / "continual.json").is_file():  # killed mid-sequence: finished steps are kept
        return resume_sequence(run_dir, console or Console(quiet=quiet), quiet)
    if not (run_dir / "recipe.yaml").is_file() and (run_dir / "race" / "recipe.yaml").is_file():
        return resume_race(run_dir, console or Console(quiet=quiet), quiet)  # killed during the race itself
    # a race's winner killed during its full run still carries the race's record
    hooks = RunHooks(record=race_record(run_dir), recipe_note=recipe_note(run_dir))
    return pipeline.resume(run_dir, console, quiet, clock=clock, hooks=hooks)

"""The range test as the user meets it: ``tuneforge lr-find`` and ``optimizer.lr: find`` in a recipe.

``optimizer.lr: find`` is resolved once, by :func:`resolve_lr_find`, at the end of
:func:`~tuneforge.runs.pipeline.prepare` (data and model loaded, no run folder yet, so a
recipe the test cannot serve fails before any folder exists). The suggestion replaces
``find`` in the recipe that the run saves, so ``--resume`` and a repeat of the run use the
same value and do not search again; :func:`write_lr_find` puts ``lr_find.json`` and
``lr_find.png`` into the run folder, and :func:`lr_find_record` reads them back for
``metrics.json`` (``{"lr_find": {"suggested": ..., "rule": ...}}``).

Example::

    tuneforge lr-find recipes/demo.yaml data.max_train_samples=600 --out lr-demo
"""
from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from ..errors import TuneforgeError
from ..recipe import Recipe
from ..recipe.schema import OptimizerSection
from ..report.lr_find_plot import save_lr_find_png, terminal_plot
from ..training.lr_finder import LRFindResult, range_test
from ..training.run_folder import write_json

FIND = "find"


def wants_lr_find(recipe: Recipe) -> bool:
    return recipe.optimizer.lr == FIND


def without_find(recipe: Recipe) -> Recipe:
    """The recipe with ``optimizer.lr: find`` replaced by the schema's default (the sweep ignores it)."""
    if not wants_lr_find(recipe):
        return recipe
    default = OptimizerSection.model_fields["lr"].default
    return recipe.model_copy(update={"optimizer": recipe.optimizer.model_copy(update={"lr": default})})


def sweep(p, console: Console, start: float = 1e-7, end: float = 10.0, steps: int = 100) -> LRFindResult:
    """The range test on a prepared run (:class:`~tuneforge.runs.pipeline.Prepared`), printed."""
    console.print(f"[dim]lr-find[/dim] sweeping optimizer.lr from {start:.0e} to {end:.0e} "
                  f"({escape(p.recipe.strategy.name)}, {p.recipe.optimizer.name})")
    result = range_test(p.model, p.task, p.recipe, p.strategy, p.encoded["train"], start=start, end=end,
                        steps=steps)
    show(result, console)
    return result


def show(result: LRFindResult, console: Console) -> None:
    console.print(escape(terminal_plot(result)), highlight=False, soft_wrap=True)
    console.print(f"[dim]lr-find[/dim] {len(result.losses)} steps on stage {escape(repr(result.stage))} "
                  f"({result.trainable_parameters:,} parameters); stopped: {escape(result.stop_reason)}")
    for note in result.notes:
        console.print(f"[yellow]lr-find note:[/yellow] {escape(note)}")
    console.print(f"[dim]lr-find[/dim] suggested learning rate [bold]{result.suggestion:.1e}[/bold] "
                  f"({escape(result.rule)}): use [bold]{result.override}[/bold]")


def write_lr_find(result: LRFindResult, folder: Path) -> None:
    """``lr_find.json`` (every number and the rule) and ``lr_find.png`` into ``folder``."""
    folder = Path(folder)
    write_json(folder / "lr_find.json", result.to_dict())
    save_lr_find_png(result, folder / "lr_find.png")


def lr_find_record(run_dir: Path) -> dict:
    """``{"lr_find": {"suggested", "rule", "stop_reason"}}`` for metrics.json, or ``{}`` when no test ran."""
    path = Path(run_dir) / "lr_find.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {"lr_find": {"suggested": data["suggestion"], "rule": data["rule"], "stop_reason": data["stop_reason"]}}


def resolve_lr_find(p, console: Console) -> Recipe:
    """``optimizer.lr: find`` -> the suggested number (the test runs here); any other recipe unchanged.

    Sets ``p.lr_find`` to the result, for :func:`write_lr_find` once the run folder exists.
    """
    if not wants_lr_find(p.recipe):
        return p.recipe
    p.recipe = without_find(p.recipe)
    result = sweep(p, console)
    if not result.clear:
        raise TuneforgeError(
            f"optimizer.lr: find: the learning-rate range test saw no clear fall of the training loss "
            f"({result.stop_reason}), so its suggestion would be a guess; look at the curve with "
            "`tuneforge lr-find RECIPE` (try --start/--end) and set optimizer.lr to a number")
    p.lr_find = result
    return p.recipe.model_copy(update={"optimizer": p.recipe.optimizer.model_copy(update={"lr": result.suggestion})})

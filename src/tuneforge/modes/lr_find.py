"""``tuneforge lr-find RECIPE``: the learning-rate range test alone, in a folder of its own (docs/lr-find.md).

A mode beside a run: the recipe is prepared as a run would be (data, model, strategy; no run
folder), swept with :func:`tuneforge.runs.lr_find.sweep`, and the curve and suggestion written.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from rich.console import Console
from rich.markup import escape

from ..errors import TuneforgeError
from ..recipe import Recipe
from ..training.run_folder import new_run_dir
from ..runs.lr_find import sweep, without_find, write_lr_find
from ..runs.pipeline import prepare
from ..training.lr_finder import LRFindResult


def lr_find_command(recipe: Recipe, console: Console, start: float, end: float, steps: int,
                    out: Optional[Path]) -> tuple[LRFindResult, Path]:
    """``tuneforge lr-find``: prepare the recipe, sweep, write the folder; return the result and folder."""
    p = prepare(without_find(recipe), console)
    result = sweep(p, console, start, end, steps)
    if out is None:
        name = recipe.output.name or recipe.name or f"{recipe.task}-{recipe.strategy.name}"
        folder = new_run_dir(recipe.output.dir, f"lr-find-{name}")
    else:
        folder = Path(out)
        if folder.exists() and not folder.is_dir():
            raise TuneforgeError(f"--out {folder} exists and is not a folder")
        folder.mkdir(parents=True, exist_ok=True)
    write_lr_find(result, folder)
    console.print(f"[dim]lr-find[/dim] wrote {escape(str(folder / 'lr_find.png'))} and lr_find.json")
    return result, folder

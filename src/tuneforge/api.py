"""The Python API.

Example::

    import tuneforge
    result = tuneforge.finetune("recipes/demo.yaml", train__epochs=1, **{"optimizer.lr": 3e-5})
    result.metrics["test"]["accuracy"]
    result.predict(["what a lovely day"])
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union

from .errors import TuneforgeError
from .recipe import Recipe, all_problems, load_recipe
from .recipe.load import parse_override, recipe_tree


def _overrides(overrides, kwargs) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(overrides, Mapping):
        out.update(overrides)
    elif overrides:
        out.update(dict(parse_override(o) for o in overrides))
    out.update({k.replace("__", "."): v for k, v in kwargs.items()})
    return out


def finetune(recipe: Union[str, Path, Mapping, Recipe], overrides: Optional[Union[Iterable[str], Mapping]] = None,
             *, quiet: bool = False, **kwargs):
    """Run a recipe (path, dict or :class:`Recipe`) with dotted overrides; return a ``FinetuneResult``.

    Progress, the evaluation lines and the summary are shown (a notebook would otherwise see nothing
    for minutes); ``quiet=True`` silences them.

    Overrides are ``{"optimizer.lr": 3e-5}``, ``["optimizer.lr=3e-5"]`` or keyword arguments with
    ``__`` for the dots (``optimizer__lr=3e-5``). ``data.train`` may be a pandas DataFrame, a dict of
    columns or a list of dicts as well as a path.
    """
    from .modes.dispatch import run

    return run(load_recipe(recipe, _overrides(overrides, kwargs)), quiet=quiet)


def validate(recipe, overrides=None, **kwargs) -> list[str]:
    """Every problem found in a recipe (empty when it is valid), without loading any model."""

    try:
        return all_problems(recipe, _overrides(overrides, kwargs))
    except TuneforgeError as e:
        return e.problems


def search(recipe: Union[str, Path, Mapping, Recipe], overrides: Optional[Union[Iterable[str], Mapping]] = None, *,
           trials: Optional[int] = None, timeout=None, objectives: Optional[list[str]] = None,
           study: Optional[str] = None, storage: Optional[str] = None, jobs: int = 1, quiet: bool = False, **kwargs):
    """Run or continue an Optuna study over a recipe (docs/search.md); returns its ``search.json`` content.

    ``trials`` is the study's total; ``timeout`` seconds or "30m"; ``objectives`` e.g.
    ``["val.macro_f1:max", "train.seconds:min"]``; ``storage`` a database URL (default: SQLite in the
    study folder).
    """
    from .search.run import run_search

    return run_search(recipe_tree(recipe, _overrides(overrides, kwargs)), trials=trials, timeout=timeout,
                      objectives=objectives, study=study, storage=storage, jobs=jobs, quiet=quiet)


def federate(recipe: Union[str, Path, Mapping, Recipe], overrides: Optional[Union[Iterable[str], Mapping]] = None,
             *, clients: int = 4, rounds: int = 3, split: str = "iid", local_epochs: int = 1,
             local_steps: Optional[int] = None, strategy: str = "fedavg", mu: float = 0.01, fraction: float = 1.0,
             quiet: bool = False, **kwargs):
    """Federated fine-tuning of a recipe over ``clients`` clients simulated by Flower (docs/federated.md);
    returns a ``FinetuneResult`` whose ``metrics["federated"]`` holds the rounds.

    Example::

        result = tuneforge.federate("recipes/demo.yaml", clients=4, rounds=5, split="dirichlet:0.5",
                                    strategy__name="lora")
    """
    from .federated.options import FederatedOptions
    from .federated.run import federate as _federate

    options = FederatedOptions(clients=clients, rounds=rounds, split=split, local_epochs=local_epochs,
                               local_steps=local_steps, strategy=strategy, mu=mu, fraction=fraction)
    return _federate(load_recipe(recipe, _overrides(overrides, kwargs)), options, quiet=quiet)


def resume(run_dir: Union[str, Path], *, quiet: bool = False):
    """Continue an interrupted run from its latest checkpoint."""
    from .modes.dispatch import resume as _resume

    return _resume(Path(run_dir), quiet=quiet)

"""``tuneforge search``: an Optuna study over a recipe's search space, resumable and shareable.

The study's total is ``search.trials`` (``--trials``): the same command after an interruption
runs only the missing trials, a larger total extends the study. Trials that crash are marked
failed (with their error) and count; a trial stopped by Ctrl-C, SIGTERM or a killed worker is
run again. ``--jobs J`` starts J-1 more worker processes on this machine on the same storage;
workers on other machines join with the same command and ``--storage URL --study NAME``. The
worker that finds the study complete measures the best trial once on the test split (the
final run, ``best-NNNN/``) and writes ``best.yaml``, ``trials.csv``, ``search.json`` and
``report.html`` (:mod:`.results`).

Example::

    result = run_search("recipes/demo.yaml", trials=12, timeout="20m")
    result["best"]["params"], result["final"]["test"]["macro_f1"]
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from rich.console import Console

from ..errors import RecipeError, TuneforgeError
from .objectives import Objective
from ..data import load_data
from ..models import peek_model
from ..recipe import all_problems, load_recipe
from ..recipe.load import recipe_tree, set_dotted
from ..runs.hooks import RunHooks
from ..tasks import TASKS
from ..recipe.duration import parse_duration
from .objectives import parse_objectives
from .space import build_space
from ..data.tables import as_table
from .storage import default_storage_url, load_or_create, make_pruner, make_sampler, open_storage

MAX_SAME_FAILURES = 3


@dataclass
class SearchContext:
    recipe: Any                      # the base recipe (validated)
    base: dict                       # its tree, as written (search section included)
    task: Any
    dims: list
    blocks: Optional[int]
    objectives: list[Objective]
    trials: int
    deadline: Optional[float]
    study_dir: Path
    study: Any = None
    storage_url: str = ""
    bundle: Any = None               # the data, loaded once
    shared: Any = None               # RunHooks holding encodings and features shared by trials
    console: Console = field(default_factory=Console)
    trial_console: Console = field(default_factory=lambda: Console(quiet=True))
    started: float = field(default_factory=time.time)

    @property
    def needs_retention(self) -> bool:
        return any(o.path == "retention" for o in self.objectives)

    def hooks_for_trial(self, callbacks):
        return RunHooks(data=dataclasses.replace(self.bundle, test=None), callbacks=callbacks, lean=True,
                        encoded=self.shared.encoded, features=self.shared.features,
                        retention=self.needs_retention)

    def surplus(self, number: int) -> bool:
        """Whether trial ``number`` would exceed the total (two workers started the last trial at once)."""
        from optuna.trial import TrialState
        earlier = [t for t in self.study.get_trials(deepcopy=False) if t.number < number]
        return sum(counted(t) or t.state == TrialState.RUNNING for t in earlier) >= self.trials


def counted(t) -> bool:
    """A trial that counts toward the total: finished, pruned, or failed by its own error."""
    from optuna.trial import TrialState
    if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return t.state == TrialState.FAIL and "error" in t.user_attrs and not t.user_attrs.get("surplus")


def study_name_for(recipe, given: Optional[str]) -> str:
    name = given or recipe.name or recipe.output.name or f"{recipe.task}-search"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", name):
        raise TuneforgeError(f"--study {name!r}: use letters, digits, '.', '_' and '-' (it names a folder)")
    return name


def fingerprint(tree: dict) -> str:
    """What makes two commands the same study: the recipe and space, not the total or the time budget."""
    tree = json.loads(json.dumps(tree, default=_content_key))
    search = dict(tree.get("search") or {})
    for k in ("trials", "timeout"):
        search.pop(k, None)
    tree["search"] = search
    tree.pop("output", None)          # it only says where the study folder is
    return hashlib.sha256(json.dumps(tree, sort_keys=True).encode()).hexdigest()[:16]


def _content_key(obj) -> str:
    try:
        import pandas as pd
        if isinstance(obj, pd.DataFrame):
            return "table:" + str(int(pd.util.hash_pandas_object(obj, index=False).sum()))
    except ImportError:
        pass
    return str(obj)


def prepare_search(source, overrides=(), *, trials=None, timeout=None, objectives=None, study=None,
                   storage=None, console=None) -> SearchContext:
    """Everything checked and loaded before the first trial; a :class:`TuneforgeError` listing all problems otherwise."""

    console = console or Console()
    tree = recipe_tree(source, overrides)
    tree.setdefault("search", {})
    if tree["search"] is None:
        tree["search"] = {}
    for key, value in (("trials", trials), ("timeout", timeout), ("objectives", objectives)):
        if value is not None:
            set_dotted(tree, f"search.{key}", value)
    problems = all_problems(tree)
    if problems:
        raise RecipeError(problems=problems)
    recipe = load_recipe(tree)
    name = study_name_for(recipe, study)
    study_dir = Path(recipe.output.dir) / name
    tree = _tables_to_files(tree, study_dir)
    recipe = load_recipe(tree)
    if recipe.data.validation is None:
        raise RecipeError("data.validation: a search scores trials on a validation split; set a fraction "
                          "(e.g. 0.1) or a file")
    task = TASKS.get(recipe.task)
    section = recipe.search
    monitor = recipe.evaluate.metric or task.default_metric()
    objs = parse_objectives(section.objectives, monitor, task.metric_names())
    if any(o.path == "retention" for o in objs) and recipe.evaluate.retention is None:
        raise RecipeError("search.objectives: retention needs evaluate.retention (e.g. evaluate.retention: {} to "
                          "measure it on the validation split, or a source-task file in evaluate.retention.data)")
    dims = build_space(section, recipe.task)
    searched = {d.key: d for d in dims}
    names = searched["strategy.name"].choices if "strategy.name" in searched else [recipe.strategy.name]
    if "auto" in names:
        raise RecipeError("strategy.name: auto races strategies within one run; a search chooses the strategy "
                          "itself: search strategy.name (e.g. {choice: [linear-probe, lp-ft, full, lora]}) instead")
    info = peek_model(recipe.model)
    blocks = max(1, len(info.block_names) - 1) if info.block_names else None
    deadline = time.time() + parse_duration(section.timeout) if section.timeout is not None else None
    ctx = SearchContext(recipe=recipe, base=tree, task=task, dims=dims, blocks=blocks,
                        objectives=objs, trials=section.trials, deadline=deadline, study_dir=study_dir,
                        console=console)
    ctx.storage_url = storage
    ctx.bundle = load_data(recipe.data, task, recipe.train.seed)
    ctx.shared = RunHooks()
    return ctx


def _tables_to_files(tree: dict, study_dir: Path) -> dict:
    """In-memory tables (Python callers) saved as Parquet in the study folder, so workers and best.yaml can read them."""

    data = tree.get("data") or {}
    for key in ("train", "validation", "test"):
        value = data.get(key)
        if value is None or isinstance(value, (str, Path, float, int)):
            continue
        table, _ = as_table(value)
        (study_dir / "data").mkdir(parents=True, exist_ok=True)
        target = study_dir / "data" / f"{key}.parquet"
        table.to_parquet(target)
        data[key] = str(target.resolve())
    return tree


def open_study(ctx: SearchContext, create_folder: bool = True) -> None:
    """Create or load the study (and its folder); refuse a study made from another recipe."""
    import optuna
    import yaml


    optuna.logging.set_verbosity(optuna.logging.ERROR)   # the search prints its own line per trial
    if ctx.study_dir.exists() and not ctx.study_dir.is_dir():
        raise TuneforgeError(f"{ctx.study_dir} exists and is not a folder")
    ctx.study_dir.mkdir(parents=True, exist_ok=True)
    ctx.storage_url = ctx.storage_url or default_storage_url(ctx.study_dir)
    section = ctx.recipe.search
    seed = section.seed if section.seed is not None else ctx.recipe.train.seed
    sampler = make_sampler(section.sampler, seed, section.startup_trials)
    pruner = make_pruner(section.pruner, section.startup_trials, len(ctx.objectives) > 1)
    storage = open_storage(ctx.storage_url)
    ctx.study, created = load_or_create(
        storage, ctx.study_dir.name, [o.direction for o in ctx.objectives], sampler, pruner, fingerprint(ctx.base),
        {"objectives": [o.label for o in ctx.objectives], "monitor": ctx.objectives[0].path.split(".")[-1],
         "space": [d.describe() for d in ctx.dims]})
    recipe_file = ctx.study_dir / "recipe.yaml"
    if not recipe_file.exists():
        tmp = recipe_file.with_name(".recipe.yaml.tmp")
        tmp.write_text(yaml.safe_dump(json.loads(json.dumps(ctx.base, default=str)), sort_keys=False))
        tmp.replace(recipe_file)


def requeue_interrupted(ctx: SearchContext) -> list[int]:
    """Trials an interruption or a killed worker cut short are run again, each once, with the same values."""
    from optuna.trial import TrialState

    _fail_dead_local_trials(ctx)
    done = set(ctx.study.user_attrs.get("requeued", []))
    again = [t for t in ctx.study.get_trials(deepcopy=False)
             if t.state == TrialState.FAIL and "error" not in t.user_attrs and not t.user_attrs.get("surplus")
             and t.number not in done]
    for t in again:
        ctx.study.enqueue_trial(t.params, skip_if_exists=False)
    if again:
        ctx.study.set_user_attr("requeued", sorted(done | {t.number for t in again}))
    return [t.number for t in again]


def _fail_dead_local_trials(ctx: SearchContext) -> None:
    """A trial still "running" in a process of this machine that no longer exists (killed) is failed now,
    rather than after the heartbeat's grace period."""
    import socket

    from optuna.trial import TrialState

    host = socket.gethostname()
    for t in ctx.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        who = str(t.user_attrs.get("worker", ""))
        name, _, pid = who.rpartition(":")
        if name == host and pid.isdigit() and not _alive(int(pid)):
            ctx.study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

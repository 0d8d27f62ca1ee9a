"""``strategy: auto``: a budgeted successive-halving race between strategies, then the winner's run.

Rung 0 runs every candidate *lean* (train + validation only, see :mod:`tuneforge.runs.hooks`)
for ``min_fraction`` of the run's optimizer steps; each rung keeps the best ``1/eta`` by the
monitored validation metric (ties go to the cheaper strategy, see :data:`COST_RANK`) and
gives them ``eta`` times the steps, until one is left. The winner then runs the real run:
full budget, test split, baselines, report, saved model, in the run folder, whose
``recipe.yaml`` names the winner (so repeating it does not race again). The test split is
never loaded into a race round. A strategy that takes no SGD step (a solved linear probe)
scores the same at every budget: it runs once and its score stands in later rungs.

The run folder::

    RUN/race/recipe.yaml        the recipe as given (strategy: auto), data paths made absolute
    RUN/race/<rung>-<strategy>/ one lean round each (metrics.json, history.jsonl, plan.json)
    RUN/race/race.json          the race record, copied into RUN/metrics.json as ``race``
    RUN/recipe.yaml ...         the winner's run, like any run folder

The race is deterministic (same seed, same splits, same data order for every candidate), so a
killed race resumed with ``tuneforge run --resume RUN`` redoes only the rounds that did not
complete and reaches the same winner; a killed final run resumes like any run.

Example::

    result = tuneforge.finetune("recipes/demo.yaml", **{"strategy.name": "auto"})
    result.metrics["race"]["winner"], result.metrics["race"]["why"]
"""
from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path
from typing import Optional

from rich.console import Console
from rich.markup import escape

from ..errors import TuneforgeError
from ..recipe import Recipe, check_recipe, load_recipe, recipe_to_yaml
from ..recipe.schema import StrategySection
from .race_report import print_rung, print_start, race_record, recipe_note, why_sentence
from ..data import load_data
from ..evaluation import greater_is_better
from ..training.run_folder import new_run_dir, set_status, write_json, write_text
from ..runs.hooks import RunHooks
from ..runs.pipeline import _repeatable, run
from ..strategies import Strategy
from ..tasks import TASKS
from ..training.run_folder import read_status

# Cheaper first: which strategy a tie goes to (fewer trained parameters, fewer or simpler stages).
COST_RANK = {"linear-probe": 0, "bitfit": 1, "ia3": 1, "lora": 1, "freeze": 2, "gradual-unfreezing": 2,
             "lp-ft": 3, "full": 4, "discriminative": 4, "layer-wise": 4}
TIE = 1e-9  # scores closer than this are equal (the same predictions give the same metric)


def race_problems(recipe: Recipe) -> list[str]:
    """What a race needs beyond a valid recipe: a validation split to race on, one hold-out run."""
    problems = []
    if recipe.data.validation is None:
        problems.append("strategy.name: auto races strategies on the validation split, but data.validation is "
                        "null; give a file or a fraction (e.g. data.validation=0.1)")
    if recipe.evaluate.folds:
        problems.append("strategy.name: auto does not combine with evaluate.folds (a race per fold would pick "
                        "different winners); race on a hold-out split, then cross-validate the winner")
    return problems


def rung_plan(total_steps: int, n: int, eta: int, min_fraction: float) -> list[tuple[int, int]]:
    """``[(candidates, budget steps)]`` per rung: every rung keeps ``n // eta`` (at least one) and
    multiplies the budget by ``eta``; a rung at the full budget keeps only the best.

    >>> rung_plan(48, 4, 2, 0.25)
    [(4, 12), (2, 24)]
    """
    rungs, r = [], 0
    while n > 1:
        budget = min(total_steps, max(1, math.ceil(total_steps * min_fraction * eta ** r)))
        rungs.append((n, budget))
        n = 1 if budget >= total_steps else max(1, n // eta)
        r += 1
    return rungs


def total_steps(recipe: Recipe, n_train: int) -> int:
    """The optimizer steps of one run of ``recipe`` on ``n_train`` examples (as the trainer counts them)."""
    t = recipe.train
    per_epoch = math.ceil(math.ceil(n_train / t.batch_size) / t.grad_accum)
    return t.max_steps or t.epochs * per_epoch


def run_race(recipe: Recipe, console: Console, quiet: bool = False, hooks=None, race_dir: Optional[Path] = None):
    """Race ``recipe``'s candidates, then run the winner; return the winner's ``FinetuneResult``.

    ``race_dir``: the run folder of a killed race to finish (rounds already completed are kept).
    """

    check_recipe(recipe)  # every candidate, the data, the model, race_problems: before any folder exists
    hooks = hooks or RunHooks()
    task = TASKS.get(recipe.task)
    bundle = hooks.data if hooks.data is not None else load_data(recipe.data, task, recipe.train.seed)
    auto = Strategy.from_section(recipe.strategy)
    metric = recipe.evaluate.metric or task.default_metric()
    higher = greater_is_better(metric)
    total = total_steps(recipe, len(bundle.train))
    rungs = rung_plan(total, len(auto.candidates()), auto.options.eta, auto.options.min_fraction)
    if race_dir is None:
        name = recipe.output.name or recipe.name or f"{recipe.task}-auto"
        race_dir = new_run_dir(recipe.output.dir, name)
        recipe = _repeatable(recipe, race_dir)  # an in-memory table is saved once, for every round
        (race_dir / "race").mkdir()
        write_text(race_dir / "race" / "recipe.yaml", recipe_to_yaml(recipe))
    run_dir = Path(race_dir)
    set_status(run_dir, "running", phase="race", resume=f"tuneforge run --resume {run_dir}")
    print_start(console, auto.candidates(), rungs, total, metric)
    lean = RunHooks(data=dataclasses.replace(bundle, test=None), lean=True, encoded=hooks.encoded,
                    features=hooks.features)
    try:
        record = _race(recipe, auto.candidates(), rungs, total, metric, higher, run_dir, lean, console, run)
        write_json(run_dir / "race" / "race.json", record)
        winner = dict(record["winner_section"])
        console.print(f"[bold]race[/bold] winner [bold]{escape(record['winner'])}[/bold]: {escape(record['why'])}")
        final = recipe.model_copy(update={"strategy": StrategySection(**winner)})
        final_hooks = RunHooks(data=bundle, callbacks=hooks.callbacks, lean=hooks.lean, encoded=hooks.encoded,
                               features=hooks.features, record=race_record(run_dir), recipe_note=recipe_note(run_dir))
    except KeyboardInterrupt:
        set_status(run_dir, "interrupted", phase="race", resume=f"tuneforge run --resume {run_dir}")
        raise
    except BaseException as e:
        set_status(run_dir, "failed", phase="race", error=str(e), resume=f"tuneforge run --resume {run_dir}")
        raise
    return run(final, console, quiet, run_dir=run_dir, hooks=final_hooks)


def _race(recipe, candidates, rungs, total, metric, higher, run_dir, hooks, console, run) -> dict:
    """The rungs; returns the race record (see :func:`~.race_report.why_sentence` for ``why``)."""
    alive = list(range(len(candidates)))
    fixed: dict[int, dict] = {}      # candidates that take no SGD step: their score at any budget
    record_rungs = []
    for r, (_, budget) in enumerate(rungs):
        results = []
        for i in alive:
            label, section = candidates[i]
            if i in fixed:
                results.append({**fixed[i], "seconds": 0.0, "reused": True})
                continue
            results.append(_round(recipe, i, label, section, r, budget, metric, run_dir, hooks, run))
            if results[-1].get("steps") == 0:
                fixed[i] = {k: v for k, v in results[-1].items() if k != "seconds"}
        ranked = sorted((x for x in results if x["value"] is not None),
                        key=lambda x: (_score(x["value"], higher), _rank(x), x["index"]))
        if not ranked:
            raise TuneforgeError("strategy auto: every candidate failed in rung "
                                 f"{r + 1}: " + "; ".join(f"{x['strategy']}: {x['error']}" for x in results))
        last = r == len(rungs) - 1
        keep = 1 if last else rungs[r + 1][0]
        kept = {x["index"] for x in ranked[:keep]}
        for x in results:
            x["kept"] = x["index"] in kept
        alive = [x["index"] for x in ranked[:keep]]
        record_rungs.append({"budget_steps": budget, "results": results})
        print_rung(console, r, len(rungs), budget, metric, results)
    winner = alive[0]
    record = {"candidates": [label for label, _ in candidates], "metric": metric,
              "greater_is_better": higher, "total_steps": total, "rungs": record_rungs,
              "winner": candidates[winner][0], "winner_section": candidates[winner][1]}
    record["why"] = why_sentence(record, TIE)
    return record


def _score(value: float, higher: bool) -> float:
    """Sort key, best first; scores within TIE of each other compare equal (float noise is no win)."""
    return round(-value if higher else value, 9)


def _rank(result: dict) -> int:
    return COST_RANK.get(result["name"], len(COST_RANK))


def _round(recipe, index, label, section, rung, budget, metric, run_dir, hooks, run) -> dict:
    """One lean round of one candidate at ``budget`` steps, or the saved result of a completed one."""
    import json

    folder = run_dir / "race" / f"{rung}-{_safe(label)}"
    base = {"strategy": label, "name": section["name"], "index": index, "run_dir": str(folder)}
    metrics_file = folder / "metrics.json"
    if metrics_file.is_file() and _completed(folder):  # a resumed race keeps finished rounds
        m = json.loads(metrics_file.read_text(encoding="utf-8"))
    else:
        if folder.exists():
            shutil.rmtree(folder)  # a round killed midway starts over
        train = recipe.train.model_copy(update={"max_steps": budget})
        variant = recipe.model_copy(update={"strategy": StrategySection(**section), "train": train})
        try:
            m = run(variant, Console(quiet=True), True, run_dir=folder, hooks=hooks).metrics
        except TuneforgeError as e:  # e.g. diverged: this candidate is out, the race goes on
            return {**base, "value": None, "seconds": 0.0, "error": str(e)}
        shutil.rmtree(folder / "checkpoints", ignore_errors=True)  # a round is never resumed from or reused
    validation = m.get("validation") or {}
    if metric not in validation:
        raise TuneforgeError(f"strategy auto: the round {folder} has no validation {metric!r}; "
                             f"it has: {', '.join(sorted(validation)) or 'none'}")
    return {**base, "value": float(validation[metric]), "seconds": float(m.get("seconds_total", 0.0)),
            "steps": int(m.get("train", {}).get("steps", 0))}


def _completed(folder: Path) -> bool:
    return read_status(folder).get("state") == "completed"


def _safe(label: str) -> str:
    import re
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", label).strip("-")


def resume_race(run_dir: Path, console: Console, quiet: bool = False):
    """Finish a race killed before its winner's run started (see the module's docstring)."""
    recipe = load_recipe(run_dir / "race" / "recipe.yaml")
    return run_race(recipe, console, quiet, race_dir=run_dir)

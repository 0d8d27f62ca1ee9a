"""The end of a search: the best trial measured once on the test split, and what the study folder holds.

* ``best.yaml``: the base recipe with the best trial's values (``tuneforge run best.yaml``
  repeats it); for several objectives, the Pareto-optimal trial best on the first one;
* ``best-NNNN/``: that recipe run in full once (test split, bootstrap intervals, frozen-probe
  baseline, report); its validation score is compared with the trial's, so a best trial that
  does not reproduce is reported rather than trusted;
* ``trials.csv``, ``search.json`` (counts, best, Pareto front, importances, final metrics,
  memory after each trial) and ``report.html``.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Optional

import yaml
from rich.markup import escape

from ..terminal import Column, fit_table, print_path
from .study import SearchContext, counted
from ..recipe import load_recipe
from ..recipe.load import set_dotted
from ..training.run_folder import read_status
from ..runs.hooks import RunHooks
from ..modes.dispatch import run as run_recipe
from .study import _alive
from .trial import worker_name
from .storage import redact
from .study_report import write_study_report
from .study_tables import write_trials_csv
from ..training.run_folder import write_json

REPRODUCE_TOLERANCE = 0.01   # |final validation - trial validation| above this is reported


def best_trial(ctx: SearchContext):
    """The single best trial, or for several objectives the Pareto trial best on the first; None if none completed."""
    from optuna.trial import TrialState

    complete = [t for t in ctx.study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if not complete:
        return None
    if len(ctx.objectives) == 1:
        return ctx.study.best_trial
    first = ctx.objectives[0]
    front = ctx.study.best_trials
    return (max if first.maximize else min)(front, key=lambda t: t.values[0])


def best_tree(ctx: SearchContext, trial) -> dict:
    """The recipe that repeats ``trial``: the base recipe, its values, no ``search`` section."""

    tree = json.loads(json.dumps(ctx.base, default=str))
    tree.pop("search", None)
    overrides = trial.user_attrs.get("overrides", {})
    if "optimizer.lr_factor" in overrides:
        tree.get("optimizer", {}).pop("lr", None)
    for key, value in overrides.items():
        set_dotted(tree, key, value)
    tree.setdefault("output", {})["name"] = f"{ctx.study_dir.name}-best"
    load_recipe(tree)  # it must validate
    return tree


def importances(ctx: SearchContext) -> dict:
    """Each parameter's share of the variation of the (first) objective (Optuna's fANOVA); {} when too few trials."""
    import optuna
    from optuna.trial import TrialState

    complete = [t for t in ctx.study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if len(complete) < 3 or not any(t.params for t in complete):
        return {}
    import warnings
    try:
        target = None if len(ctx.objectives) == 1 else (lambda t: t.values[0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # "few trials per regime": the report says how many trials there were
            found = optuna.importance.get_param_importances(ctx.study, target=target)
        return {k: float(v) for k, v in found.items()}
    except (RuntimeError, ValueError, ZeroDivisionError):
        return {}   # e.g. no parameter appears in every completed trial


def final_run(ctx: SearchContext, trial, quiet: bool) -> Optional[dict]:
    """Run the best recipe once in full (test split included) in ``best-NNNN/``; reuse a finished one."""

    tree = best_tree(ctx, trial)
    write_yaml(ctx.study_dir / "best.yaml", tree)
    folder = ctx.study_dir / f"best-{trial.number:04d}"
    if (folder / "metrics.json").is_file() and read_status(folder).get("state") == "completed":
        metrics = json.loads((folder / "metrics.json").read_text())
    else:
        if not _claim(folder):
            ctx.console.print(f"[dim]search[/dim] another worker is running the final run in {folder}")
            return None
        ctx.console.print(f"[bold]final[/bold] trial {trial.number}'s recipe, trained once more and tested on the "
                          "test split no trial saw")
        hooks = RunHooks(data=ctx.bundle, encoded=ctx.shared.encoded, features=ctx.shared.features)
        result = run_recipe(load_recipe(tree), ctx.console, quiet=quiet, run_dir=folder, hooks=hooks)
        metrics = result.metrics
    monitor = ctx.objectives[0]
    reproduced = None
    if monitor.path.startswith("validation."):
        again = metrics.get("validation", {}).get(monitor.path.split(".", 1)[1])
        reproduced = {"trial": trial.values[0], "final": again,
                      "ok": again is not None and abs(again - trial.values[0]) <= REPRODUCE_TOLERANCE}
    return {"run_dir": folder.name, "trial": trial.number, "validation": metrics.get("validation", {}),
            "test": metrics.get("test", {}), "test_ci": metrics.get("test_ci", {}),
            "baseline": metrics.get("baseline", {}), "baseline_majority": metrics.get("baseline_majority", {}),
            "vs_baseline": metrics.get("vs_baseline"), "diagnostics": metrics.get("diagnostics", []),
            "reproduced": reproduced}


def _claim(folder: Path) -> bool:
    """Whether this process may run the final run in ``folder``: it created it, or the worker that
    did (on this machine) is gone and left it unfinished (then it starts again)."""

    owner_file = folder / ".owner"
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        owner = owner_file.read_text().strip() if owner_file.is_file() else ""
        host, _, pid = owner.rpartition(":")
        if not (host == worker_name().rpartition(":")[0] and pid.isdigit() and not _alive(int(pid))):
            return False
        shutil.rmtree(folder)
        folder.mkdir(parents=True)
    owner_file.write_text(worker_name())
    return True


def write_yaml(path: Path, tree: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(yaml.safe_dump(tree, sort_keys=False, allow_unicode=True))
    tmp.replace(path)


def summarise(ctx: SearchContext, final: Optional[dict], stop_reason: str) -> dict:
    from optuna.trial import TrialState

    trials = ctx.study.get_trials(deepcopy=False)
    state = lambda s: sum(t.state == s for t in trials)  # noqa: E731
    best = best_trial(ctx)
    return {
        "study": ctx.study_dir.name, "storage": redact(ctx.storage_url),
        "objectives": [o.label for o in ctx.objectives], "trials_total": ctx.trials, "stop_reason": stop_reason,
        "counts": {"complete": state(TrialState.COMPLETE), "pruned": state(TrialState.PRUNED),
                   "failed": sum(t.state == TrialState.FAIL and counted(t) for t in trials),
                   "interrupted": sum(t.state == TrialState.FAIL and not counted(t) for t in trials),
                   "running": state(TrialState.RUNNING)},
        "space": [d.describe() for d in ctx.dims],
        "best": None if best is None else {"number": best.number, "values": list(best.values),
                                           "params": best.params, "overrides": best.user_attrs.get("overrides", {}),
                                           "recipe": "best.yaml"},
        "pareto": [t.number for t in ctx.study.best_trials] if len(ctx.objectives) > 1 and best else [],
        "importances": importances(ctx),
        "final": final,
        "seconds": time.time() - ctx.started,
        "memory_mb": [t.user_attrs["rss_mb"] for t in sorted(trials, key=lambda t: t.number)
                      if "rss_mb" in t.user_attrs],
    }


def write_results(ctx: SearchContext, summary: dict) -> None:

    write_json(ctx.study_dir / "search.json", summary)
    write_trials_csv(ctx.study, ctx.study_dir / "trials.csv")
    try:
        write_study_report(ctx.study_dir, ctx.study, summary)
    except Exception as e:  # the report must not lose a finished search
        ctx.console.print(f"[yellow]warning[/yellow] the study report failed: {e!r}")


def print_results(ctx: SearchContext, summary: dict) -> None:
    from optuna.trial import TrialState

    console = ctx.console
    rows = []
    for t in sorted(ctx.study.get_trials(deepcopy=False), key=lambda t: t.number):
        if t.user_attrs.get("surplus"):
            continue
        values = " ".join(f"{v:.4g}" for v in (t.values or [])) if t.state == TrialState.COMPLETE else \
            ("pruned @" + str(t.user_attrs.get("pruned_at_step", "?")) if t.state == TrialState.PRUNED else t.state.name.lower())
        params = " ".join(f"{k.split('.')[-1]}={v:.3g}" if isinstance(v, float) else f"{k.split('.')[-1]}={v}"
                          for k, v in t.params.items())
        seconds = t.user_attrs.get("seconds")
        rows.append([str(t.number), values, params, f"{seconds:.0f}" if isinstance(seconds, (int, float)) else "-"])
    cols = [Column("#", 0), Column("/".join(o.path.split(".")[-1] for o in ctx.objectives), 0),
            Column("parameters", 0, justify="left"), Column("s", 1)]
    console.print(fit_table(cols, rows, console.width, title=f"study {ctx.study_dir.name}"))
    best, final = summary.get("best"), summary.get("final")
    if best is not None:
        console.print(f"[bold]best[/bold] trial {best['number']}: " + escape(", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in best["params"].items())))
    if final:
        metric = ctx.objectives[0].path.split(".")[-1]
        test, base = final["test"].get(metric), (final.get("baseline") or {}).get(metric)
        ci = (final.get("test_ci") or {}).get(metric)
        ci_text = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if isinstance(ci, (list, tuple)) and len(ci) == 2 else ""
        if test is not None:
            console.print(f"[bold]test[/bold] {metric} {test:.4f}{ci_text}"
                          + (f" (frozen-feature probe {base:.4f})" if base is not None else ""))
        rep = final.get("reproduced")
        if rep and not rep["ok"]:
            console.print(f"[yellow]warning[/yellow] the final run's validation {metric} "
                          f"{rep['final'] if rep['final'] is not None else 'is missing'} differs from the "
                          f"trial's {rep['trial']:.4f} by more than {REPRODUCE_TOLERANCE}: the search's best may be luck")
    elif summary.get("counts", {}).get("complete", 0) == 0:
        console.print("[yellow]warning[/yellow] no trial completed: there is no best recipe yet")
    for name in ("best.yaml", "trials.csv", "report.html"):
        if (ctx.study_dir / name).is_file():
            print_path(console, name, ctx.study_dir / name)

"""One trial: the recipe with the trial's values, trained lean on train/validation, scored.

A trial builds everything fresh from the recipe plus its overrides (the model, the strategy,
the optimizer), and shares only what cannot differ between trials: the loaded and split data,
the tokenised or decoded splits, and the frozen pre-trained features the head solver reads
(:class:`~tuneforge.runs.hooks.RunHooks`). The test split is not in the data it gets. Each
validation evaluation is reported to Optuna; a pruned trial stops at once and keeps its
partial curve (``history.jsonl`` in its folder, and the trial's intermediate values).
"""
from __future__ import annotations

import copy
import gc
import os
import resource
import socket
from pathlib import Path
from typing import Optional

from ..errors import TuneforgeError
from ..training.callbacks import Callback
from ..recipe import load_recipe
from ..modes.dispatch import run as run_recipe
from .space import sample

LEAN_SETTINGS = {"evaluate.report": False, "evaluate.baseline": False, "evaluate.random_init": False,
                 "evaluate.explain": 0, "evaluate.bootstrap": 0, "output.save_model": False}


class PruningReporter(Callback):
    """Reports each validation evaluation to the Optuna trial; stops training when Optuna prunes it."""

    order = 60

    def __init__(self, trial, report: bool):
        self.trial, self.report, self.pruned_at = trial, report, None

    def on_evaluate(self, trainer, metrics):
        if not self.report or trainer.tracker is None:
            return
        step = trainer.state.step
        self.trial.report(trainer.tracker.value(metrics), step)
        if step > 0 and self.trial.should_prune():
            self.pruned_at = step
            trainer.request_stop(f"pruned by the search at step {step}")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def rss_mb() -> float:
    """Resident memory now (not the peak), from /proc; the peak where /proc is missing."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def trial_recipe(base: dict, overrides: dict, study_dir: Path, retention: bool):
    """The trial's recipe: the base recipe (without ``search``) + the trial's values + lean settings."""

    tree = copy.deepcopy(base)
    tree.pop("search", None)
    values = dict(overrides)
    if "optimizer.lr_factor" in values:
        tree.get("optimizer", {}).pop("lr", None)
    settings = dict(LEAN_SETTINGS)
    if not retention:
        settings["evaluate.retention"] = None
    settings["output.dir"] = str(study_dir / "trials")
    return load_recipe(tree, {**values, **settings})


def blocks_trained(metrics: dict) -> Optional[int]:
    """Blocks below the head that train in the last stage of the plan (None without a plan)."""
    plan = (metrics.get("strategy") or {}).get("plan") or []
    if not plan:
        return None
    last = plan[-1]
    head = last.get("head")
    trainable = [b for b in last.get("trainable", []) if b != head]
    return len(trainable) if head is not None else max(0, len(trainable) - 1)


class TrialRunner:
    """The Optuna objective of a search (one instance per worker process)."""

    def __init__(self, ctx):
        self.ctx = ctx

    def __call__(self, trial):
        import optuna


        ctx = self.ctx
        trial.set_user_attr("worker", worker_name())
        if ctx.surplus(trial.number):
            trial.set_user_attr("surplus", True)
            raise _Surplus(f"trial {trial.number} is beyond the study's {ctx.trials} trials (another worker took it)")
        overrides = sample(trial, ctx.dims, ctx.base, ctx.blocks)
        trial.set_user_attr("overrides", overrides)
        trial_dir = ctx.study_dir / "trials" / f"{trial.number:04d}"
        trial.set_user_attr("trial_dir", str(trial_dir.relative_to(ctx.study_dir)))
        reporter = PruningReporter(trial, report=len(ctx.objectives) == 1)
        try:
            recipe = trial_recipe(ctx.base, overrides, ctx.study_dir, ctx.needs_retention)
            hooks = ctx.hooks_for_trial([reporter])
            result = run_recipe(recipe, ctx.trial_console, quiet=True, run_dir=trial_dir, hooks=hooks)
            metrics = result.metrics
            del result
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            raise
        except Exception as e:
            trial.set_user_attr("error", _one_line(e))
            raise
        finally:
            gc.collect()
            trial.set_user_attr("rss_mb", round(rss_mb(), 1))
        train = metrics["train"]
        trial.set_user_attr("strategy", metrics["strategy"]["name"])
        trial.set_user_attr("lr", _resolved_lr(metrics))
        trial.set_user_attr("blocks_trained", blocks_trained(metrics))
        trial.set_user_attr("trainable_parameters", int(train["trainable_parameters"]))
        trial.set_user_attr("seconds", round(float(train["seconds"]), 3))
        trial.set_user_attr("steps", int(train["steps"]))
        trial.set_user_attr("validation", {k: v for k, v in metrics["validation"].items()
                                           if isinstance(v, (int, float)) and not isinstance(v, bool)})
        if reporter.pruned_at is not None:
            trial.set_user_attr("pruned_at_step", reporter.pruned_at)
            raise optuna.TrialPruned(f"pruned at step {reporter.pruned_at}")
        values = [o.value(metrics) for o in ctx.objectives]
        return values[0] if len(values) == 1 else values


def _resolved_lr(metrics: dict) -> Optional[float]:
    plan = (metrics.get("strategy") or {}).get("plan") or [{}]
    lr = ((plan[0].get("defaults") or {}).get("optimizer.lr") or {}).get("value")
    return float(lr) if isinstance(lr, (int, float)) else None


class _Surplus(TuneforgeError):
    pass


def _one_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    if not isinstance(e, TuneforgeError):
        text = f"{type(e).__name__}: {text}"
    return text if len(text) < 2000 else text[:2000] + "..."

"""The trial loop of one worker process, and the extra local workers of ``--jobs``.

Each worker asks the shared storage for the next trial until the study holds its total
(counting the trials other workers are running), the time budget is spent, or the same
error has failed :data:`MAX_SAME_FAILURES` trials in a row (a systematic problem: it is
raised instead of burning the whole budget on it).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Optional

from rich.markup import escape

from ..errors import TuneforgeError
from .study import MAX_SAME_FAILURES, SearchContext, counted
from .trial import TrialRunner
from .trial import worker_name


def work(ctx: SearchContext) -> str:
    """Run trials until done; returns why it stopped ("complete", "timeout")."""
    from optuna.trial import TrialState

    runner = TrialRunner(ctx)
    same_error: list[str] = []
    while True:
        if ctx.deadline is not None and time.time() >= ctx.deadline:
            return "timeout"
        trials = ctx.study.get_trials(deepcopy=False)
        if sum(counted(t) or t.state == TrialState.RUNNING for t in trials) >= ctx.trials:
            return "complete"
        before = {t.number for t in trials}
        done = sum(counted(t) for t in trials)
        with ctx.console.status(f"trial {done + 1} of {ctx.trials} running...", spinner="dots"):
            ctx.study.optimize(runner, n_trials=1, catch=(Exception,), gc_after_trial=True)
        mine = [t for t in ctx.study.get_trials(deepcopy=False)
                if t.number not in before and t.user_attrs.get("worker") == _me()]
        for t in mine:
            print_trial(ctx, t)
            error = t.user_attrs.get("error") if t.state == TrialState.FAIL else None
            if t.user_attrs.get("surplus"):
                continue
            if error is None or (same_error and same_error[-1] != error):
                same_error = []
            if error is not None:
                same_error.append(error)
        if len(same_error) >= MAX_SAME_FAILURES:
            raise TuneforgeError(f"the last {len(same_error)} trials failed with the same error, so the search "
                                 f"stopped: {same_error[-1]}")


def _me() -> str:
    return worker_name()


def print_trial(ctx: SearchContext, t) -> None:
    """One line per finished trial: its values, the outcome, the best so far."""
    from optuna.trial import TrialState

    params = " ".join(f"{k.split('.')[-1]}={_short(v)}" for k, v in t.params.items())
    seconds = t.user_attrs.get("seconds")
    took = f" {seconds:.0f}s" if isinstance(seconds, (int, float)) else ""
    if t.state == TrialState.COMPLETE:
        values = " ".join(f"{o.path.split('.')[-1]} {v:.4g}" for o, v in zip(ctx.objectives, t.values))
        outcome = f"[green]{escape(values)}[/green]"
    elif t.state == TrialState.PRUNED:
        outcome = f"[yellow]pruned at step {t.user_attrs.get('pruned_at_step', '?')}[/yellow]"
    elif t.user_attrs.get("surplus"):
        outcome = "[dim]not run: the study already had its trials[/dim]"
    else:
        outcome = f"[red]failed[/red]: {escape(str(t.user_attrs.get('error', 'interrupted')))[:200]}"
    done = sum(counted(x) for x in ctx.study.get_trials(deepcopy=False))
    best = ""
    if len(ctx.objectives) == 1:
        try:
            b = ctx.study.best_trial
            best = f"  [dim]best {b.value:.4g} (#{b.number})[/dim]"
        except ValueError:
            pass
    ctx.console.print(f"[bold]trial {t.number}[/bold] [dim]({done}/{ctx.trials})[/dim] {escape(params)}: "
                      f"{outcome}{took}{best}", soft_wrap=True)


def _short(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def start_local_workers(ctx: SearchContext, n: int, threads: int) -> list[subprocess.Popen]:
    """``n`` more worker processes on this machine, on the same study; their output goes to ``workers/``."""
    logs = ctx.study_dir / "workers"
    logs.mkdir(exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    cmd = [sys.executable, "-m", "tuneforge.cli", "search", str(ctx.study_dir / "recipe.yaml"),
           "--study", ctx.study_dir.name, "--storage", ctx.storage_url, "--trials", str(ctx.trials), "--worker",
           f"output.dir={ctx.study_dir.parent}"]
    if ctx.deadline is not None:
        cmd += ["--timeout", f"{max(1.0, ctx.deadline - time.time()):.0f}"]
    procs = []
    for i in range(n):
        log = open(logs / f"worker-{i + 1}.log", "a")
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=os.getcwd()))
        log.close()
    return procs


def stop_workers(procs: list[subprocess.Popen], wait: Optional[float] = None) -> None:
    """Wait for the workers (``wait`` None), or ask them to stop (SIGTERM: their trial is marked interrupted)."""
    for p in procs:
        if wait is not None and p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            p.kill()

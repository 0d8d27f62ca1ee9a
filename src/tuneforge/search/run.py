"""``tuneforge search`` start to finish: check, open the study, run trials (here and in local workers), finish.

Example::

    from tuneforge.search import run_search
    summary = run_search("recipes/demo.yaml", trials=12, timeout="20m", jobs=2)
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

from rich.console import Console
from rich.markup import escape

from ..extras import require_extra
from ..terminal import print_path
from .dashboard import DASHBOARD_NEEDS, serve_dashboard
from .storage import require_storage_extra
from ..errors import TuneforgeError
from .results import best_trial, final_run, print_results, summarise, write_results
from .study import counted, open_study, prepare_search, requeue_interrupted
from .worker import start_local_workers, stop_workers, work


def run_search(source, overrides: Sequence[str] = (), *, trials: Optional[int] = None, timeout=None,
               objectives: Optional[list[str]] = None, study: Optional[str] = None, storage: Optional[str] = None,
               jobs: int = 1, worker: bool = False, quiet: bool = False, dashboard: Optional[int] = None,
               console: Optional[Console] = None) -> dict:
    """Run (or continue) a study; returns ``search.json``'s content (``{}`` for a worker, which only runs trials)."""
    import torch
    from optuna.trial import TrialState


    console = console or Console(quiet=quiet)
    if jobs < 1:
        raise TuneforgeError(f"--jobs {jobs}: give at least 1")
    require_storage_extra(storage)   # missing extras: one message before the study folder exists
    if dashboard is not None and not worker:
        require_extra("dashboard", DASHBOARD_NEEDS)
    ctx = prepare_search(source, overrides, trials=trials, timeout=timeout, objectives=objectives, study=study,
                         storage=storage, console=console)
    open_study(ctx)
    if not worker:
        again = requeue_interrupted(ctx)
        done = sum(counted(t) for t in ctx.study.get_trials(deepcopy=False))
        console.print(f"[bold]search[/bold] study {escape(ctx.study_dir.name)}: {done} of {ctx.trials} trials done"
                      + (f", {len(again)} interrupted trial(s) to run again" if again else "")
                      + f"; objective {', '.join(o.label for o in ctx.objectives)}")
        for d in ctx.dims:
            console.print(f"[dim]space[/dim] {escape(d.describe())}")
        if len(ctx.objectives) > 1 and ctx.recipe.search.pruner != "none":
            console.print("[dim]search[/dim] no pruning: Optuna prunes single-objective studies only")
        print_path(console, "study", ctx.study_dir)
    server = None
    if dashboard is not None and not worker:
        server = serve_dashboard(ctx.storage_url, port=dashboard, block=False)
        console.print(f"[bold]dashboard[/bold] {server.url} (live while the search runs)")
    threads = torch.get_num_threads()
    procs = []
    try:
        if jobs > 1:
            per = max(1, (os.cpu_count() or 1) // jobs)
            procs = start_local_workers(ctx, jobs - 1, per)
            torch.set_num_threads(per)
            console.print(f"[dim]search[/dim] {jobs} workers on this machine, {per} thread(s) each; "
                          f"the others log to {ctx.study_dir / 'workers'}")
        reason = work(ctx)
        if procs:
            stop_workers(procs)
            procs = []
    except KeyboardInterrupt:
        stop_workers(procs, wait=30)
        console.print("[yellow]interrupted[/yellow]: run the same command again to continue the study")
        raise
    finally:
        torch.set_num_threads(threads)
        if server is not None:
            server.stop()
    if worker:
        return {}
    trials_now = ctx.study.get_trials(deepcopy=False)
    running = sum(t.state == TrialState.RUNNING for t in trials_now)
    final = None
    if running:
        console.print(f"[dim]search[/dim] {running} trial(s) still run in other workers; the worker that finishes "
                      "last measures the best trial on the test split (or run this command again afterwards)")
    else:
        best = best_trial(ctx)
        if best is not None:
            final = final_run(ctx, best, quiet)
    summary = summarise(ctx, final, reason)
    write_results(ctx, summary)
    print_results(ctx, summary)
    ctx.shared.clear()
    return summary

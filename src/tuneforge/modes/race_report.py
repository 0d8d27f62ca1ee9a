"""How a strategy race is told: the plan and cost before it starts, one table per rung as it
goes, the one-sentence reason the winner won, and the record the winner's run folder keeps.

The record (``RUN/race/race.json``, copied into ``RUN/metrics.json`` as ``race``)::

    {"candidates": [...], "metric": "macro_f1", "greater_is_better": true, "total_steps": 48,
     "rungs": [{"budget_steps": 12, "results": [{"strategy": "lp-ft", "value": 0.73, "seconds": 3.1,
                                                  "kept": true, ...}, ...]}, ...],
     "winner": "lp-ft", "winner_section": {"name": "lp-ft"}, "why": "lp-ft reached ..."}
"""
from __future__ import annotations

import json
from pathlib import Path

from rich.markup import escape

RACE_FILE = Path("race") / "race.json"


def race_record(run_dir: Path) -> dict:
    """``{"race": record}`` when ``run_dir`` is the winner's run of a race, else ``{}`` (for metrics.json)."""
    path = Path(run_dir) / RACE_FILE
    if not path.is_file():
        return {}
    return {"race": json.loads(path.read_text(encoding="utf-8"))}


def recipe_note(run_dir: Path) -> str:
    """The comment that heads the winner's ``recipe.yaml``: it was chosen by a race, and where that is told."""
    record = race_record(run_dir).get("race")
    if not record:
        return ""
    return (f"# strategy chosen by `strategy: auto` (a race between {', '.join(record['candidates'])});\n"
            f"# why: {record['why']}\n"
            "# the race's own recipe: race/recipe.yaml; its rounds: race/ and metrics.json `race`.\n"
            "# Running this file repeats the winner without racing.\n")


def race_cost(rungs: list[tuple[int, int]], total_steps: int, free: int) -> float:
    """At most how many runs' worth of optimizer steps the race takes: ``free`` of the candidates take
    none, and every later rung may be all paid ones.

    >>> race_cost([(4, 12), (2, 24)], 48, free=1)   # 3 x 1/4 + 2 x 1/2
    1.75
    """
    paid = 0
    if rungs:
        n_paid = rungs[0][0] - free
        for n, budget in rungs:
            paid += max(0, min(n, n_paid)) * budget
    return paid / total_steps if total_steps else 0.0


def print_start(console, candidates, rungs, total_steps: int, metric: str) -> None:
    free = sum(1 for _, s in candidates if s["name"] == "linear-probe" and s.get("warm_head", "auto") is not False)
    budgets = ", ".join(str(b) for _, b in rungs)
    cost = race_cost(rungs, total_steps, free)
    console.print(f"[bold]race[/bold] {len(candidates)} candidates ({escape(', '.join(c for c, _ in candidates))}) "
                  f"on validation {metric}: {len(rungs)} rung{'s' if len(rungs) != 1 else ''} of {budgets} of "
                  f"{total_steps} steps, at most ~{cost:.2f}x one run's training, then the winner's full run "
                  f"(~{cost + 1:.2f}x in all)")


def print_rung(console, r: int, n_rungs: int, budget: int, metric: str, results: list[dict]) -> None:
    console.print(f"[dim]race[/dim] rung {r + 1}/{n_rungs} at {budget} steps ({metric} on validation):")
    width = max(len(x["strategy"]) for x in results)
    for x in results:
        value = "failed" if x["value"] is None else f"{x['value']:.4f}"
        tail = ("kept" if x["kept"] else "out") + (" (no SGD step: score reused)" if x.get("reused") else "")
        if x.get("error"):
            tail += f": {x['error']}"
        console.print(f"  {escape(x['strategy']).ljust(width)}  {value:>8}  {x['seconds']:6.1f}s  {escape(tail)}")


def why_sentence(record: dict, tie: float) -> str:
    """One sentence: the winner's score at the last rung against the runner-up (or the tie it won on
    cost), then the best score of those knocked out earlier.

    e.g. "lp-ft reached 0.8636 macro_f1 on validation at 24 steps vs 0.8409 for full; out at 12
    steps: linear-probe 0.6162, gradual-unfreezing 0.6000"
    """
    metric, last = record["metric"], record["rungs"][-1]
    scored = [x for x in last["results"] if x["value"] is not None]
    win = next(x for x in scored if x["strategy"] == record["winner"])
    others = [x for x in scored if x is not win]
    text = f"{win['strategy']} reached {win['value']:.4f} {metric} on validation at {last['budget_steps']} steps"
    if others:
        best = min(others, key=lambda x: -x["value"] if record["greater_is_better"] else x["value"])
        if abs(best["value"] - win["value"]) <= tie:
            text += f", tied with {best['strategy']}; the cheaper strategy wins a tie"
        else:
            text += f" vs {best['value']:.4f} for {best['strategy']}"
    earlier = []
    for rung in record["rungs"][:-1]:
        out = [f"{x['strategy']} {x['value']:.4f}" if x["value"] is not None else f"{x['strategy']} failed"
               for x in rung["results"] if not x["kept"]]
        if out:
            earlier.append(f"out at {rung['budget_steps']} steps: " + ", ".join(out))
    return "; ".join([text] + earlier)

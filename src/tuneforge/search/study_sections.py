"""Sections of the study report that list trials: the trials table, blocks trained, the Pareto front, files.

Tables keep to the page width the run report's do: all of a trial's parameters share one cell,
one ``name = value`` per line, and long error messages are shortened and may break after a
path separator, so no column is ever wider than its longest parameter name.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Sequence

import optuna
from optuna.trial import TrialState

from . import study_figures as figs
from ..report.html import esc, fmt, grid, img, note, section, table
from .study_tables import Objective, pruned_at_step, seconds, state_name
from .dashboard import dashboard_command

_ERROR_CHARS = 240


def _breakable(text: str) -> str:
    """Escaped text that may also wrap after '/', '.', '_', ',' ':' or '=' inside words over 24 characters."""
    return " ".join(re.sub(r"([/._,:=])", r"\1<wbr>", esc(w)) if len(w) > 24 else esc(w) for w in text.split(" "))


def shorten(text: str) -> str:
    """An error message on one line, cut at 240 characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= _ERROR_CHARS else text[:_ERROR_CHARS - 1] + "…"


def params_cell(params: dict) -> str:
    return "<br>".join(f"{esc(k)} = {esc(fmt(v)) if not isinstance(v, str) else esc(v)}" for k, v in params.items())


def trial_note(trial: optuna.trial.FrozenTrial) -> str:
    """'pruned at step 40', the error of a failed trial, 'interrupted' ('' for a complete trial)."""
    if trial.state == TrialState.PRUNED:
        step = pruned_at_step(trial)
        return "pruned" + (f" at step {step}" if step is not None else "")
    error = trial.user_attrs.get("error")
    if error:
        text = shorten(error)
        return "<span title=\"" + esc(error) + "\">" + _breakable(text) + "</span>"
    if trial.user_attrs.get("interrupted"):
        return "interrupted"
    return ""


def _number_cell(study_dir: Path, trial: optuna.trial.FrozenTrial) -> str:
    rel = trial.user_attrs.get("trial_dir")
    if rel and (study_dir / rel / "report.html").is_file():
        return f'<a href="{esc(rel)}/report.html">{trial.number}</a>'
    return str(trial.number)


def trials_section(study_dir: Path, trials: Sequence[optuna.trial.FrozenTrial], objs: Sequence[Objective],
                   best_number: Optional[int]) -> str:
    if not trials:
        return section("Trials", note("The study has no trials yet."), anchor="trials")
    header = ["trial", "state", *(f"{o.name} {o.arrow}" for o in objs), "parameters", "seconds", "note"]
    rows, highlight = [], None
    for i, t in enumerate(trials):
        values = t.values if t.state == TrialState.COMPLETE and t.values else [None] * len(objs)
        rows.append([_number_cell(study_dir, t), esc(state_name(t)), *(fmt(v) for v in values),
                     params_cell(t.params), fmt(seconds(t), 3), trial_note(t)])
        if t.number == best_number:
            highlight = i
    body = table(header, rows, highlight=highlight, raw=True)
    return section("Trials", _align(body, params_col=2 + len(objs), note_col=4 + len(objs)),
                   note("The best trial's row is in bold. Trial numbers link to the trial's own run report where "
                        "it has one; trials.csv holds the same table."), anchor="trials")


def _align(table_html: str, params_col: int, note_col: Optional[int] = None) -> str:
    """Left-align the parameters (and note) column: text, where everything else is right-aligned numbers."""
    out = []
    for row in re.split(r"(?=<tr)", table_html):
        cells = re.split(r"(?=<td>)", row)
        for j in range(1, len(cells)):
            if j - 1 == params_col:
                cells[j] = cells[j].replace("<td>", '<td class="params">', 1)
            elif j - 1 == note_col:
                cells[j] = cells[j].replace("<td>", '<td class="why">', 1)
        out.append("".join(cells))
    return "".join(out)


def blocks_section(trials: Sequence[optuna.trial.FrozenTrial], objective: Objective) -> str:
    """Validation score against body blocks trained (automatic layer selection), with the best per count."""
    uri = figs.blocks_scatter(trials, objective)
    if uri is None:
        return ""
    best: dict[tuple[str, int], tuple[float, int, int]] = {}
    for t in trials:
        blocks = t.user_attrs.get("blocks_trained")
        if blocks is None or t.state != TrialState.COMPLETE or not t.values:
            continue
        key = (figs.strategy_of(t), int(blocks))
        value, number, n = best.get(key, (t.values[0], t.number, 0))
        if objective.better(t.values[0], value):
            value, number = t.values[0], t.number
        best[key] = (value, number, n + 1)
    rows = [[s, b, v, num, n] for (s, b), (v, num, n) in sorted(best.items())]
    return section("Validation score vs blocks trained", grid(img(uri, "validation score vs blocks trained")),
                   table(["strategy", "blocks trained", f"best {objective.name}", "trial", "trials"], rows)
                   if rows else "",
                   note("How many of the body blocks below the head each trial trained in its last stage: "
                        "the search chose the number and which blocks. Hollow markers: pruned trials at their "
                        "last reported value."), anchor="blocks")


def pareto_section(trials: Sequence[optuna.trial.FrozenTrial], objs: Sequence[Objective], front: list[int]) -> str:
    uri = figs.pareto(trials, objs, set(front))
    on = [t for t in trials if t.number in set(front) and t.values]
    rows = [[str(t.number), *(fmt(v) for v in t.values), esc(figs.strategy_of(t)), params_cell(t.params)]
            for t in sorted(on, key=lambda t: t.values[0], reverse=objs[0].maximize)]
    listing = (_align(table(["trial", *(f"{o.name} {o.arrow}" for o in objs), "strategy", "parameters"], rows,
                            raw=True), params_col=2 + len(objs))
               if rows else note("No complete trial yet, so no Pareto front."))
    return section("Pareto front", grid(img(uri, "Pareto front")) if uri else "", listing,
                   note("A trial is on the front when no other trial is at least as good on every objective and "
                        "better on one. Choose along it by what you can afford."), anchor="pareto")


def files_section(study_dir: Path, summary: dict) -> str:
    files = [(name, why) for name, why in (("best.yaml", "the winning recipe"), ("trials.csv", "the trials table"),
                                           ("search.json", "this summary as data"), ("study.db", "the Optuna study"))
             if (study_dir / name).is_file()]
    listing = "".join(f'<li><a href="{esc(n)}">{esc(n)}</a>: {esc(w)}</li>' for n, w in files)
    storage = summary.get("storage") or (f"sqlite:///{study_dir / 'study.db'}" if (study_dir / "study.db").is_file()
                                         else None)
    parts = [f"<ul>{listing}</ul>" if listing else ""]
    if storage:

        parts.append(note("Browse the study interactively: " + dashboard_command(storage)))
    cost = []
    if summary.get("seconds") is not None:
        cost.append(f"the search took {fmt(float(summary['seconds']), 3)} s")
    memory = [m for m in summary.get("memory_mb") or [] if m is not None]
    if memory:
        cost.append(f"process memory after each trial went from {int(round(memory[0])):,} MB to "
                    f"{int(round(memory[-1])):,} MB (peak {int(round(max(memory))):,} MB)")
    if cost:
        text = "; ".join(cost)
        parts.append(note(text[0].upper() + text[1:] + "."))
    return section("Files", *parts, anchor="files")

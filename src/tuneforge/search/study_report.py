"""``report.html`` of a search study folder: what won, on what evidence, and what the search learned.

Built from the Optuna study and the summary the search writes to ``search.json`` (see
``docs/search.md``); nothing is computed again here beyond sorting and plotting. Every section
copes with what a real study can hold: no trial finished, only failures, a single trial, no
importances (fewer than two complete trials), no final run.

Example::

    path = write_study_report(Path("runs/search-x"), study, json.loads(Path("runs/search-x/search.json").read_text()))
"""
from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Optional

import optuna
from optuna.trial import TrialState

from ..evaluation.diagnostics import verdict
from . import study_figures as figs
from ..report.html import esc, fmt, grid, img, note, page, section, table, with_ci, write_atomically
from .study_sections import blocks_section, files_section, pareto_section, shorten, trials_section
from .study_tables import Objective, objectives, state_name


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


def best_trial(study: optuna.Study, summary: dict) -> Optional[optuna.trial.FrozenTrial]:
    """The trial the search picked (``summary["best"]["number"]``), else the study's best single-objective
    trial, else ``None`` (nothing completed, or a multi-objective study without a pick)."""
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    number = (summary.get("best") or {}).get("number")
    if number in by_number:
        return by_number[number]
    done = [t for t in by_number.values() if t.state == TrialState.COMPLETE and t.values]
    if len(study.directions) != 1 or not done:
        return None
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    return (max if maximize else min)(done, key=lambda t: t.values[0])


def describe(trial: optuna.trial.FrozenTrial) -> str:
    """'lora, optimizer.lr = 0.0015, 2 blocks trained' (strategy, the other params, blocks)."""
    parts = [figs.strategy_of(trial)]
    parts += [f"{k} = {fmt(v)}" for k, v in trial.params.items() if k != "strategy.name"]
    if trial.user_attrs.get("blocks_trained") is not None:
        parts.append(f"{trial.user_attrs['blocks_trained']} blocks trained")
    return ", ".join(str(p) for p in parts)


def why_best_won(trials: list, objs: list[Objective], best, importances: dict, front: list[int]) -> str:
    """One or two sentences: the margin over the runner-up and over the best other strategy, the
    parameter that mattered most; for several objectives, what being on the Pareto front means."""
    if best is None or not best.values:
        return ""
    obj = objs[0]
    text = f"Trial {best.number} ({describe(best)}) reached {obj.name} {fmt(best.values[0])}"
    if len(objs) > 1:
        text += (f" and is one of {len(front)} trials on the Pareto front: no other trial is better on "
                 + " and ".join(o.name for o in objs) + " at once.")
    else:
        others = [t for t in trials if t.state == TrialState.COMPLETE and t.values and t.number != best.number]
        if not others:
            text += "; it was the only trial that completed, so nothing was compared with it."
        else:
            pick = max if obj.maximize else min
            runner = pick(others, key=lambda t: t.values[0])
            text += (f", {fmt(abs(best.values[0] - runner.values[0]))} better than the runner-up "
                     f"(trial {runner.number}, {figs.strategy_of(runner)})")
            rivals = [t for t in others if figs.strategy_of(t) != figs.strategy_of(best)]
            if rivals:
                rival = pick(rivals, key=lambda t: t.values[0])
                if rival.number != runner.number:
                    text += (f" and {fmt(abs(best.values[0] - rival.values[0]))} better than the best trial of "
                             f"another strategy (trial {rival.number}, {figs.strategy_of(rival)})")
            elif len({figs.strategy_of(t) for t in trials}) == 1:
                text += "; every trial used this strategy"
            text += "."
    if importances:
        top, share = max(importances.items(), key=lambda kv: kv[1])
        text += f" Of the searched parameters, {top} explained the most of the score's variance ({share:.0%})."
    return text


def _headline_metrics(final: dict, run_metrics: dict) -> list[str]:
    test = final.get("test") or {}
    named = (run_metrics.get("columns") or {}).get("headline")
    if named:
        return [n for n in named if n in test]
    return [n for n, v in test.items() if isinstance(v, (int, float)) and not isinstance(v, bool)][:7]


def final_table(study_dir: Path, final: Optional[dict]) -> str:
    """The best recipe's final run on the test split (with intervals) beside the frozen-probe baseline."""
    if not final or not final.get("test"):
        return note("No final run: the best recipe was not re-trained and measured on the test split "
                    "(run `tuneforge run best.yaml` to do it).")
    run_dir = study_dir / (final.get("run_dir") or "best")
    run_metrics = _json(run_dir / "metrics.json")
    names = _headline_metrics(final, run_metrics)
    ci = final.get("test_ci") or run_metrics.get("test_ci") or {}
    rows = []
    for label, key in (("majority / mean predictor", "baseline_majority"), ("pre-trained, linear probe", "baseline")):
        m = final.get(key)
        if m and "error" not in m:
            rows.append([esc(label)] + [fmt(m.get(n)) for n in names])
    rows.append(["<b>best recipe, final run</b>"] + [with_ci(final["test"].get(n), ci.get(n)) for n in names])
    level = run_metrics.get("confidence", 0.95)
    size = (run_metrics.get("data", {}).get("sizes") or {}).get("test")
    text = (f"Measured once, after the search, on the test split{f' ({size:,} examples)' if size else ''} "
            "that no trial saw. "
            + (f"Brackets: {level:.0%} bootstrap interval." if ci else "No bootstrap intervals were computed."))
    val = final.get("validation") or {}
    shown = run_metrics.get("monitor") if run_metrics.get("monitor") in val else (names[0] if names else None)
    if shown and val.get(shown) is not None:
        text += f" On the validation split the search selected on, the final run scored {shown} {fmt(val[shown])}."
    said = ""
    vs = final.get("vs_baseline") or run_metrics.get("vs_baseline")
    monitor = run_metrics.get("monitor") or (vs or {}).get("metric")
    if vs or (final.get("baseline") and monitor):
        said = ("<p>" + esc(verdict(vs, final["test"].get(monitor), (final.get("baseline") or {}).get(monitor),
                                    "the frozen pre-trained baseline (linear probe) on the test split")) + "</p>")
    return said + table(["model"] + names, rows, highlight=len(rows) - 1, raw=True) + note(text)


def headline_section(study_dir: Path, study: optuna.Study, summary: dict, best, objs, front) -> str:
    trials = study.get_trials(deepcopy=False)
    counts = {}
    for t in trials:
        counts[state_name(t)] = counts.get(state_name(t), 0) + 1
    tally = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no trials"
    parts = [f"<p>{len(trials)} trials: {esc(tally)}.</p>"]
    if best is None:
        failed = [t for t in trials if t.user_attrs.get("error")]
        why = f" The first failure: {shorten(failed[0].user_attrs['error'])}" if failed else ""
        parts.append(f'<p class="verdict"><b>{esc("No trial completed, so there is no best recipe." + why)}</b></p>'
                     if not any(t.state == TrialState.COMPLETE for t in trials) else
                     f"<p>{esc(f'{len(front)} trials are on the Pareto front (below); the search picked none.')}</p>")
        return section("Best recipe", *parts, anchor="best")
    values = ", ".join(f"{o.name} {fmt(v)}" for o, v in zip(objs, best.values or []))
    parts.append(f'<p class="verdict"><b>Best: trial {best.number}</b> ({esc(describe(best))}): {esc(values)}.</p>')
    parts.append(final_table(study_dir, summary.get("final")))
    links = []
    run_dir = (summary.get("final") or {}).get("run_dir") or "best"
    if (study_dir / run_dir / "report.html").is_file():
        links.append(f'<a href="{esc(run_dir)}/report.html">the final run\'s report</a>')
    recipe = (summary.get("best") or {}).get("recipe") or "best.yaml"
    if (study_dir / recipe).is_file():
        links.append(f'<a href="{esc(recipe)}">{esc(recipe)}</a> (the winning recipe)')
    if links:
        parts.append(f"<p>{' · '.join(links)}</p>")
    parts.append(f"<p>Train it again: <code>tuneforge run {esc(shlex.quote(str(study_dir / recipe)))}</code></p>")
    return section("Best recipe", *parts, anchor="best")


def build_study_report(study_dir: Path, study: optuna.Study, summary: Optional[dict] = None) -> str:
    """The HTML text of a study's report (``summary`` is what ``search.json`` holds; may be partial)."""
    study_dir = Path(study_dir)
    summary = summary or {}
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    objs = objectives(study)
    best = best_trial(study, summary)
    front = summary.get("pareto")
    if front is None and len(objs) > 1:
        front = [t.number for t in study.best_trials]
    front = list(front or [])
    shares = summary.get("importances") or {}
    monitor = study.user_attrs.get("monitor") or objs[0].name.rpartition(".")[2]
    why = why_best_won(trials, objs, best, shares, front)
    drawn = [img(u, f"history of {o.name}") for i, o in enumerate(objs[:2]) if (u := figs.history(trials, o, i))]
    history = grid(*drawn) if drawn else ""
    curves = figs.intermediate_curves(trials, monitor, best.number if best else None)
    imp = figs.importances(shares)
    ranked = sorted(shares.items(), key=lambda kv: -kv[1])
    imp_text = (table(["parameter", "share"], [[k, f"{v:.1%}"] for k, v in ranked])
                if shares else note("No parameter importances were computed (they need at least two complete "
                                    "trials with different parameters)."))
    parts = [headline_section(study_dir, study, summary, best, objs, front),
             section("Why the best won", f"<p>{esc(why)}</p>", anchor="why") if why else "",
             trials_section(study_dir, trials, objs, best.number if best else None),
             section("Optimisation history", history or note("No trial has finished yet."), anchor="history"),
             section("Validation curves", grid(img(curves, "validation curve of every trial")) if curves else
                     note("No trial reported a validation value."),
                     note("Pruned trials (grey, dashed, an x where they stopped) were stopped early by the pruner "
                          "as hopeless; their partial curves are kept.") if curves else "", anchor="curves"),
             section("Parameter importances", grid(img(imp, "parameter importances")) if imp else "", imp_text,
                     note("Share of the objective's variance each parameter explains across the complete "
                          "trials: where the search was sensitive.") if shares else "", anchor="importances"),
             blocks_section(trials, objs[0]),
             pareto_section(trials, objs, front) if len(objs) > 1 else "",
             files_section(study_dir, summary)]
    title = f"Search: {study.study_name}"
    subtitle = f"study folder {study_dir.name} · " + ", ".join(f"{o.name} ({'max' if o.maximize else 'min'})"
                                                                for o in objs)
    return page(title, subtitle, [_CSS] + parts)


_CSS = ("<style>.verdict{font-size:1.05em;margin:4px 0 10px} code{background:#f1f3f6;padding:1px 4px;"
        "border-radius:3px} td.params{text-align:left} td.why{text-align:left;max-width:22em}</style>")


def write_study_report(study_dir, study: optuna.Study, summary: Optional[dict] = None) -> Path:
    """Write ``study_dir/report.html`` atomically; returns its path."""
    study_dir = Path(study_dir)
    path = study_dir / "report.html"
    write_atomically(path, build_study_report(study_dir, study, summary))
    return path

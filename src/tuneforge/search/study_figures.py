"""Figures of a search study (PNG data URIs, drawn off-screen like the run report's figures).

Each function takes the study (or what was computed from it) and returns ``None`` when there
is nothing to draw, so the report simply leaves the figure out.
"""
from __future__ import annotations

from typing import Optional, Sequence

import matplotlib
import numpy as np
import optuna
from matplotlib.figure import Figure
from optuna.trial import TrialState

from ..report.figures import new_figure, to_data_uri
from .study_tables import Objective

COMPLETE, PRUNED, FAILED, BEST = "#3060c0", "#9aa0ab", "#c03030", "#d08a00"


def strategy_of(trial: optuna.trial.FrozenTrial) -> str:
    """The trial's strategy (its ``strategy`` user attribute, else its ``strategy.name`` parameter)."""
    return str(trial.user_attrs.get("strategy") or trial.params.get("strategy.name") or "?")


def last_intermediate(trial: optuna.trial.FrozenTrial) -> Optional[float]:
    """The value a trial reported last (where a pruned trial stood when it was stopped)."""
    if not trial.intermediate_values:
        return None
    return float(trial.intermediate_values[max(trial.intermediate_values)])


def history(trials: Sequence[optuna.trial.FrozenTrial], objective: Objective, index: int) -> Optional[str]:
    """Objective value per trial number, the best-so-far line, pruned trials at their last reported value
    (grey x) and failed trials as red ticks on the bottom edge."""
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.values is not None]
    if not trials or (not done and not any(t.state in (TrialState.PRUNED, TrialState.FAIL) for t in trials)):
        return None
    fig = new_figure()
    ax = fig.add_subplot()
    if done:
        xs = [t.number for t in done]
        ys = [t.values[index] for t in done]
        ax.plot(xs, ys, "o", color=COMPLETE, label="complete trial")
        best, line = None, []
        for y in ys:
            best = y if best is None or objective.better(y, best) else best
            line.append(best)
        ax.step(xs, line, where="post", color=BEST, linewidth=1.6, label="best so far")
    pruned = [(t.number, last_intermediate(t)) for t in trials if t.state == TrialState.PRUNED]
    pruned = [(n, v) for n, v in pruned if v is not None]
    if pruned and index == 0:
        ax.plot([n for n, _ in pruned], [v for _, v in pruned], "x", color=PRUNED,
                label="pruned (last reported value)")
    failed = [t.number for t in trials if t.state == TrialState.FAIL]
    if failed:
        ax.plot(failed, [0.0] * len(failed), "|", color=FAILED, markersize=14, markeredgewidth=2,
                transform=ax.get_xaxis_transform(), label="failed", clip_on=False)
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{objective.name} {objective.arrow}")
    ax.set_title(f"optimisation history: {objective.name}")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=6, loc="best")
    return to_data_uri(fig)


def intermediate_curves(trials: Sequence[optuna.trial.FrozenTrial], monitor: str,
                        best_number: Optional[int]) -> Optional[str]:
    """Every trial's validation curve against optimizer steps: complete trials solid, pruned ones grey
    and dashed up to the step they were stopped at (an x), the best trial thick."""
    fig = intermediate_curves_figure(trials, monitor, best_number)
    return None if fig is None else to_data_uri(fig)


def intermediate_curves_figure(trials: Sequence[optuna.trial.FrozenTrial], monitor: str,
                               best_number: Optional[int]) -> Optional[Figure]:
    """The figure of :func:`intermediate_curves` (each trial's curve is a line with its ``gid`` set to
    ``trial N``)."""
    curves = [t for t in trials if t.intermediate_values]
    if not curves:
        return None
    fig = new_figure()
    ax = fig.add_subplot()
    labelled = set()
    alpha = max(0.25, min(0.8, 10 / len(curves)))  # many trials: lighter lines, so the pruned ones still show
    for t in curves:
        steps = sorted(t.intermediate_values)
        values = [t.intermediate_values[s] for s in steps]
        if t.number == best_number:
            style = dict(color=BEST, linewidth=2.4, linestyle="-", label=f"best (trial {t.number})", zorder=3)
        elif t.state == TrialState.PRUNED:
            style = dict(color=PRUNED, linewidth=1.0, linestyle="--", label="pruned (partial curve)", zorder=2)
        else:
            style = dict(color=COMPLETE, linewidth=1.0, linestyle="-", alpha=alpha, label=f"{state_label(t)} trial",
                         zorder=1)
        if style["label"] in labelled:
            style["label"] = None
        labelled.add(style["label"])
        ax.plot(steps, values, gid=f"trial {t.number}", **style)
        if t.state == TrialState.PRUNED:
            ax.plot(steps[-1:], values[-1:], "x", color=PRUNED)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel(f"validation {monitor}")
    ax.set_title("validation curve of every trial")
    ax.legend(fontsize=6)
    return fig


def state_label(trial: optuna.trial.FrozenTrial) -> str:
    return {TrialState.COMPLETE: "complete", TrialState.FAIL: "failed", TrialState.RUNNING: "running"}.get(
        trial.state, trial.state.name.lower())


def importances(shares: dict[str, float]) -> Optional[str]:
    """A horizontal bar per parameter, largest on top, labelled with its share."""
    items = sorted(((k, float(v)) for k, v in shares.items() if v is not None and np.isfinite(v)),
                   key=lambda kv: kv[1])
    if not items:
        return None
    fig = new_figure(height=max(1.8, 0.9 + 0.32 * len(items)))
    ax = fig.add_subplot()
    ax.barh(range(len(items)), [v for _, v in items], color=COMPLETE)
    ax.set_yticks(range(len(items)), [k for k, _ in items], fontsize=7)
    for i, (_, v) in enumerate(items):
        ax.text(v, i, f" {v:.0%}", va="center", fontsize=7)
    ax.set_xlim(0, max(1.0, max(v for _, v in items)) * 1.12)
    ax.set_xlabel("share of the objective's variance")
    ax.set_title("parameter importances")
    return to_data_uri(fig)


def blocks_scatter(trials: Sequence[optuna.trial.FrozenTrial], objective: Objective) -> Optional[str]:
    """First objective against the number of body blocks trained, one colour per strategy; pruned
    trials hollow, at their last reported value."""
    points = []
    for t in trials:
        blocks = t.user_attrs.get("blocks_trained")
        if blocks is None:
            continue
        if t.state == TrialState.COMPLETE and t.values is not None:
            points.append((strategy_of(t), int(blocks), t.values[0], True))
        elif t.state == TrialState.PRUNED and last_intermediate(t) is not None:
            points.append((strategy_of(t), int(blocks), last_intermediate(t), False))
    if not points:
        return None
    fig = new_figure()
    ax = fig.add_subplot()
    names = sorted({p[0] for p in points})
    cmap = matplotlib.colormaps["tab10"]
    rng = np.random.default_rng(0)
    for i, name in enumerate(names):
        colour = cmap(i % 10)
        for complete in (True, False):
            mine = [p for p in points if p[0] == name and p[3] is complete]
            if not mine:
                continue
            xs = np.array([p[1] for p in mine], dtype=float) + rng.uniform(-0.12, 0.12, len(mine))
            ax.scatter(xs, [p[2] for p in mine], s=28, label=name if complete else f"{name} (pruned)",
                       facecolors=colour if complete else "none", edgecolors=colour)
    ax.set_xlabel("body blocks trained (last stage)")
    ax.set_ylabel(f"{objective.name} {objective.arrow}")
    low, high = min(p[1] for p in points), max(p[1] for p in points)
    ax.set_xlim(low - 0.5, high + 0.5)
    ax.set_xticks(range(low, high + 1) if high - low <= 24 else np.linspace(low, high, 7).round().astype(int))
    ax.set_title("validation score vs blocks trained")
    ax.legend(fontsize=6)
    return to_data_uri(fig)


def pareto(trials: Sequence[optuna.trial.FrozenTrial], objs: Sequence[Objective], front: set[int]) -> Optional[str]:
    """The two first objectives of every complete trial; the Pareto front highlighted and joined."""
    fig = pareto_figure(trials, objs, front)
    return None if fig is None else to_data_uri(fig)


def pareto_figure(trials: Sequence[optuna.trial.FrozenTrial], objs: Sequence[Objective],
                  front: set[int]) -> Optional[Figure]:
    """The figure of :func:`pareto` (the front is the line with ``gid`` ``pareto front``)."""
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.values is not None and len(t.values) >= 2]
    if len(objs) < 2 or not done:
        return None
    fig = new_figure()
    ax = fig.add_subplot()
    rest = [t for t in done if t.number not in front]
    ax.scatter([t.values[0] for t in rest], [t.values[1] for t in rest], s=22, color=PRUNED, label="dominated")
    on = sorted((t for t in done if t.number in front), key=lambda t: t.values[0])
    if on:
        ax.plot([t.values[0] for t in on], [t.values[1] for t in on], "o-", color=BEST, markersize=7,
                label="Pareto front", zorder=3, gid="pareto front")
        for t in on:
            ax.annotate(f"#{t.number}", (t.values[0], t.values[1]), textcoords="offset points", xytext=(4, 4),
                        fontsize=7)
    ax.set_xlabel(f"{objs[0].name} {objs[0].arrow}")
    ax.set_ylabel(f"{objs[1].name} {objs[1].arrow}")
    ax.set_title("Pareto front")
    ax.legend(fontsize=6)
    return fig

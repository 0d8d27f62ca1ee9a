"""A search study's trials as rows: one per trial, for ``trials.csv``, the terminal table and the report.

Columns, in order: ``number``, ``state``, one per objective (named by the study's ``objectives``
user attribute, e.g. ``validation.macro_f1``), one per searched parameter (the dotted recipe keys,
in the order trials first used them), ``seconds``, ``pruned_at_step`` and ``error``. A value a
trial does not have (a parameter of another strategy, the objective of a failed trial) is ``None``,
an empty cell in the CSV.

Example::

    rows = trials_table_rows(study)          # [{"number": 0, "state": "complete", ...}, ...]
    write_trials_csv(study, study_dir / "trials.csv")
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import optuna
from optuna.trial import TrialState

_STATES = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned", TrialState.FAIL: "failed",
           TrialState.RUNNING: "running", TrialState.WAITING: "waiting"}


@dataclass(frozen=True)
class Objective:
    """One objective of the study: ``validation.macro_f1`` to maximise, ``train.seconds`` to minimise..."""

    name: str
    maximize: bool

    @property
    def arrow(self) -> str:
        return "↑" if self.maximize else "↓"

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` beats ``b``."""
        return a > b if self.maximize else a < b


def objectives(study: optuna.Study) -> list[Objective]:
    """The study's objectives from its ``objectives`` user attribute (``"validation.macro_f1:max"``), else
    its metric names (``study.set_metric_names``, which optuna-dashboard shows too), else ``value`` /
    ``value 0``, ``value 1``, with Optuna's directions."""
    directions = [d == optuna.study.StudyDirection.MAXIMIZE for d in study.directions]
    named = study.user_attrs.get("objectives") or study.metric_names or []
    out = []
    for i, maximize in enumerate(directions):
        if i < len(named) and isinstance(named[i], str):
            name, _, way = named[i].rpartition(":")
            if name and way in ("max", "min"):
                out.append(Objective(name, way == "max"))
                continue
            out.append(Objective(named[i], maximize))
            continue
        out.append(Objective("value" if len(directions) == 1 else f"value {i}", maximize))
    return out


def state_name(trial: optuna.trial.FrozenTrial) -> str:
    """``complete``, ``pruned``, ``failed``, ``interrupted`` (a failed trial the user stopped), ``running``..."""
    if trial.state == TrialState.FAIL and trial.user_attrs.get("interrupted"):
        return "interrupted"
    return _STATES.get(trial.state, trial.state.name.lower())


def param_names(study: optuna.Study) -> list[str]:
    """Every searched parameter, in the order trials first used it."""
    names: dict[str, None] = {}
    for t in study.get_trials(deepcopy=False):
        names.update(dict.fromkeys(t.params))
    return list(names)


def pruned_at_step(trial: optuna.trial.FrozenTrial) -> Optional[int]:
    """The last optimizer step a pruned trial reported before it was stopped (``None`` for others)."""
    if trial.state != TrialState.PRUNED or not trial.intermediate_values:
        return None
    return int(max(trial.intermediate_values))


def seconds(trial: optuna.trial.FrozenTrial) -> Optional[float]:
    """The trial's training seconds (its ``seconds`` user attribute), else its wall-clock duration."""
    value = trial.user_attrs.get("seconds")
    if value is None and trial.duration is not None:
        value = trial.duration.total_seconds()
    return None if value is None else float(value)


def table_columns(study: optuna.Study) -> list[str]:
    """The column names of :func:`trials_table_rows`, in order."""
    return (["number", "state"] + [o.name for o in objectives(study)] + param_names(study)
            + ["seconds", "pruned_at_step", "error"])


def trials_table_rows(study: optuna.Study) -> list[dict]:
    """One dict per trial (by trial number), keys in :func:`table_columns` order."""
    objs = objectives(study)
    params = param_names(study)
    rows = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        values = t.values if t.state == TrialState.COMPLETE and t.values is not None else [None] * len(objs)
        row = {"number": t.number, "state": state_name(t)}
        row.update({o.name: v for o, v in zip(objs, values)})
        row.update({p: t.params.get(p) for p in params})
        error = t.user_attrs.get("error")
        if error is None and t.user_attrs.get("interrupted"):
            error = "interrupted"
        row.update(seconds=seconds(t), pruned_at_step=pruned_at_step(t), error=error)
        rows.append(row)
    return rows


def write_trials_csv(study: optuna.Study, path) -> Path:
    """Write :func:`trials_table_rows` as CSV (empty cells for missing values), atomically; returns the path."""
    path = Path(path)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=table_columns(study), lineterminator="\n")
    writer.writeheader()
    for row in trials_table_rows(study):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, path)
    return path

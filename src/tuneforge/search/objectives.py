"""What a study optimises: ``metric:max|min`` names read from a trial's ``metrics.json``.

* ``validation.<metric>`` (``val.<metric>`` for short): the trial's final validation metrics;
* ``train.<key>``: ``seconds``, ``samples_per_second``, ``peak_memory_mb``, ``trainable_parameters``...;
* ``retention``: the retention score (what the fine-tuned model kept of the pre-trained one,
  docs/evaluation.md), measured on the validation split or ``evaluate.retention.data``.

Example::

    objectives = parse_objectives(["val.macro_f1:max", "train.seconds:min"], recipe, task)
    [o.value(metrics) for o in objectives]
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import RecipeError
from ..evaluation import greater_is_better
from ..registry import did_you_mean

TRAIN_KEYS = ("seconds", "samples_per_second", "peak_memory_mb", "trainable_parameters", "steps", "samples")


@dataclass(frozen=True)
class Objective:
    path: str          # validation.macro_f1, train.seconds, retention
    maximize: bool

    @property
    def direction(self) -> str:
        return "maximize" if self.maximize else "minimize"

    @property
    def label(self) -> str:
        return f"{self.path}:{'max' if self.maximize else 'min'}"

    def value(self, metrics: dict) -> float:
        if self.path == "retention":
            node = (metrics.get("retention") or {}).get("score")
        else:
            node = metrics
            for part in self.path.split("."):
                node = node.get(part) if isinstance(node, dict) else None
        if node is None or isinstance(node, (dict, list, bool)):
            raise RecipeError(f"search.objectives: {self.path} is not in the trial's metrics")
        return float(node)


def parse_objectives(texts: list[str], monitor: str, metric_names: list[str]) -> list[Objective]:
    """Objectives from ``metric:direction`` strings; the monitored validation metric when none are given."""
    if not texts:
        return [Objective(f"validation.{monitor}", greater_is_better(monitor))]
    out = []
    for text in texts:
        name, _, direction = str(text).strip().rpartition(":")
        if not name or direction not in ("max", "min"):
            raise RecipeError(f"search.objectives: {text!r} is not metric:max or metric:min "
                              "(e.g. validation.macro_f1:max, train.seconds:min)")
        if name.startswith("val."):
            name = "validation." + name[4:]
        section, _, key = name.partition(".")
        if section == "validation":
            if key not in metric_names:
                raise RecipeError(f"search.objectives: {key!r} is not a validation metric of this task"
                                  f"{did_you_mean(key, metric_names)}; choose from {', '.join(metric_names)}")
        elif section == "train":
            if key not in TRAIN_KEYS:
                raise RecipeError(f"search.objectives: train.{key} is not measured{did_you_mean(key, TRAIN_KEYS)}; "
                                  f"choose from {', '.join('train.' + k for k in TRAIN_KEYS)}")
        elif name != "retention":
            raise RecipeError(f"search.objectives: {name!r} is unknown; use validation.<metric>, train.<key> "
                              "or retention")
        out.append(Objective(name, direction == "max"))
    if len({o.path for o in out}) != len(out):
        raise RecipeError("search.objectives: an objective is named twice")
    return out

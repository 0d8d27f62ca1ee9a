"""Weights passed from step to step, and one row of the accuracy matrix.

A step starts from the previous step's weights (:func:`carry_weights`): all of them with a
shared head; the body only with per-task heads (each task keeps the head it was trained
with, and a task not trained yet is scored with its freshly initialised head). Scoring is
in fp32 by argmax, on each task's test split, with the same encoding the steps use.
"""
from __future__ import annotations

from typing import Optional

import torch

from ..training.evaluator import SplitEvaluator
from .sequence import TaskData


def head_keys(model, state: dict) -> list[str]:
    """The keys of ``state`` that belong to the task head (the final linear layer's weight and bias)."""
    prefix = (model.head_linear_name or "\0") + "."
    return [k for k in state if k.startswith(prefix)]


def carry_weights(state: Optional[dict], model, with_head: bool) -> None:
    """Copy ``state`` (a network's state dict) into ``model.net``; the head too when ``with_head``."""
    if state is None:
        return
    own = model.net.state_dict()
    skip = set() if with_head else set(head_keys(model, state))
    mismatched = [k for k in state if k not in skip and (k not in own or own[k].shape != state[k].shape)]
    if mismatched:
        raise RuntimeError(f"continual: the previous step's weights do not fit this model ({mismatched[:3]}...)")
    model.net.load_state_dict({k: v for k, v in state.items() if k not in skip}, strict=False)


def cpu_state(model) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the network's state dict (the weights the next step starts from)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.net.state_dict().items()}


class Scorer:
    """``scorer.row(state, heads)`` -> accuracy on every task's test split of the weights ``state``.

    ``state``: the network after a step (None: the pre-trained model with untrained heads);
    ``heads``: per-task heads, task index -> head weights (per-task heads only).
    """

    def __init__(self, recipe, task, tasks: list[TaskData], shared: bool):
        self.recipe, self.task, self.tasks, self.shared = recipe, task, tasks, shared
        self._models: dict[int, object] = {}
        self._encoded: dict[int, object] = {}

    def model_for(self, j: int):
        """The model task ``j`` is scored with (one for all tasks with a shared head), built once, seeded."""
        key = 0 if self.shared else j
        if key not in self._models:
            torch.manual_seed(self.recipe.train.seed)
            self._models[key] = self.task.build_model(self.recipe.model, self.tasks[j].labels,
                                                      image_size=self.recipe.data.image_size).eval()
        return self._models[key]

    def row(self, state: Optional[dict], heads: dict[int, dict]) -> list[float]:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        out = []
        for j, t in enumerate(self.tasks):
            model = self.model_for(j)
            carry_weights(state, model, with_head=self.shared)
            if not self.shared and j in heads:
                model.net.load_state_dict(heads[j], strict=False)
            model.to(device)
            if j not in self._encoded:
                self._encoded[j] = self.task.encode_split(t.bundle.test, model, t.section, "test",
                                                          self.recipe.train.seed)
            evaluate = SplitEvaluator(self.task, self._encoded[j], t.bundle.test.targets, t.labels,
                                      self.recipe.evaluate.batch_size, "fp32", device)
            out.append(float(evaluate(model)["accuracy"]))
        return out

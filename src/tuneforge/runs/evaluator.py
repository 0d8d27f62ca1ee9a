"""Evaluate a task model on an encoded split, in the units the user thinks in."""
from __future__ import annotations

import numpy as np
import torch

from ..evaluation import predict_outputs
from ..tasks import TargetScaler
from ..training.precision import autocast_dtype


class SplitEvaluator:
    """``evaluator(model)`` -> metrics of ``model`` on one split (outputs de-standardised when a scaler is given).

    ``decision``: settings the task tuned on validation outputs (e.g. per-label thresholds).
    """

    def __init__(self, task, encoded, targets: np.ndarray, label_names, batch_size: int, precision: str,
                 device: torch.device, scaler: TargetScaler | None = None, decision: dict | None = None):
        self.task, self.encoded, self.targets, self.decision = task, encoded, targets, decision
        self.label_names, self.batch_size = label_names, batch_size
        self.precision, self.device, self.scaler = precision, device, scaler

    def outputs(self, model) -> np.ndarray:
        out = predict_outputs(model, self.encoded, self.batch_size, self.device, autocast_dtype(self.precision))
        if self.scaler is not None:
            out = self.scaler.inverse(out)
        return out

    def metrics(self, outputs: np.ndarray) -> dict:
        """Metrics of outputs already computed by :meth:`outputs` (so they can be reused)."""
        return self.task.compute_metrics(self.targets, outputs, self.label_names, self.decision)

    def __call__(self, model) -> dict:
        return self.metrics(self.outputs(model))


class TrainingEvaluation:
    """The trainer's validation pass (``trainer.evaluate_fn``); remembers its last outputs and step.

    When training ends right after an evaluation and nothing changed the weights since (no best
    weights restored from another step, no adapter merged, no target scale folded in), the final
    validation metrics are those outputs: :meth:`final_outputs` hands them over instead of a second
    pass over the validation split.
    """

    def __init__(self, evaluator: SplitEvaluator, model, trainer):
        self.evaluator, self.model, self.trainer = evaluator, model, trainer
        self.step, self.outputs = None, None

    def __call__(self) -> dict:
        self.outputs, self.step = self.evaluator.outputs(self.model), self.trainer.state.step
        return self.evaluator.metrics(self.outputs)

    def final_outputs(self, finalize_changes_weights: bool) -> np.ndarray | None:
        """The last outputs when the final model is exactly the one evaluated last, else None."""
        state, restore = self.trainer.state, self.trainer.recipe.train.restore_best
        if finalize_changes_weights or self.evaluator.scaler is not None or self.step != state.step:
            return None
        if restore and state.best_step is not None and state.best_step != state.step:
            return None
        return self.outputs

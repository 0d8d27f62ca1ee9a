"""Evaluate a task model on an encoded split, in the units the user thinks in."""
from __future__ import annotations

import numpy as np
import torch

from ..evaluation import compute_metrics, predict_outputs
from ..tasks import TargetScaler
from ..training.precision import autocast_dtype


class SplitEvaluator:
    """``evaluator(model)`` -> metrics of ``model`` on one split (regression outputs de-standardised)."""

    def __init__(self, task, encoded, targets: np.ndarray, label_names, batch_size: int, precision: str,
                 device: torch.device, scaler: TargetScaler | None = None):
        self.task, self.encoded, self.targets = task, encoded, targets
        self.label_names, self.batch_size = label_names, batch_size
        self.precision, self.device, self.scaler = precision, device, scaler

    def outputs(self, model) -> np.ndarray:
        out = predict_outputs(model, self.encoded, self.batch_size, self.device, autocast_dtype(self.precision))
        if not self.task.classification and self.scaler is not None:
            out = self.scaler.inverse(out)
        return out

    def metrics(self, outputs: np.ndarray) -> dict:
        """Metrics of outputs already computed by :meth:`outputs` (so they can be reused)."""
        return compute_metrics(self.task.kind, self.targets, outputs, self.label_names)

    def __call__(self, model) -> dict:
        return self.metrics(self.outputs(model))

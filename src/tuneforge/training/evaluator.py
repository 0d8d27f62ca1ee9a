"""Evaluate a task model on an encoded split, in the units the user thinks in."""
from __future__ import annotations

import contextlib

import numpy as np
import torch

from ..evaluation import predict_outputs
from ..head.start import head_linears
from ..tasks import TargetScaler
from ..models.precision import autocast_dtype


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


CHECK_ROWS = 8   # validation rows a shortcut is checked on against a forward pass


class TrainingEvaluation:
    """The trainer's validation pass (``trainer.evaluate_fn``); remembers its last outputs and step.

    At step 0, right after the head was solved, the outputs come from the solved head applied to the
    validation features the solve already extracted (see :meth:`_from_solved_head`).

    When training ends right after an evaluation and nothing changed the weights since (no best
    weights restored from another step, no adapter merged, no target scale folded in), the final
    validation metrics are those outputs: :meth:`final_outputs` hands them over instead of a second
    pass over the validation split.
    """

    def __init__(self, evaluator: SplitEvaluator, model, trainer):
        self.evaluator, self.model, self.trainer = evaluator, model, trainer
        self.step, self.outputs = None, None

    def __call__(self) -> dict:
        outputs = self._from_solved_head()
        self.outputs = outputs if outputs is not None else self.evaluator.outputs(self.model)
        self.step = self.trainer.state.step
        return self.evaluator.metrics(self.outputs)

    def _from_solved_head(self) -> np.ndarray | None:
        """Step 0's validation outputs without a pass over the split, when the head was just solved on the
        frozen body's validation features and those features are exactly the head's inputs: the outputs
        are then one matrix product away. A forward pass over a few rows checks it; None (a full pass)
        when anything differs."""
        x, self.trainer.solved_validation_inputs = getattr(self.trainer, "solved_validation_inputs", None), None
        lins = head_linears(self.model) if x is not None and self.trainer.state.step == 0 else []
        if len(lins) != 1 or len(x) != len(self.evaluator.encoded):
            return None
        ev, lin = self.evaluator, lins[0]
        dtype = autocast_dtype(ev.precision)   # the head runs as in the forward pass: same precision, same layer
        autocast = torch.autocast(ev.device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
        with torch.inference_mode(), autocast:
            out = lin(torch.as_tensor(np.asarray(x), dtype=torch.float32, device=ev.device)).float().cpu().numpy()
        if out.ndim == 2 and out.shape[1] == 1:
            out = out[:, 0]
        rows = np.arange(min(CHECK_ROWS, len(out)))
        check = predict_outputs(self.model, ev.encoded, ev.batch_size, ev.device, autocast_dtype(ev.precision), rows=rows)
        if check.shape != out[rows].shape or not np.allclose(check, out[rows], rtol=0.05,
                                                              atol=0.05 * (1.0 + float(np.abs(check).max(initial=0)))):
            return None
        return ev.scaler.inverse(out) if ev.scaler is not None else out

    def final_outputs(self, finalize_changes_weights: bool) -> np.ndarray | None:
        """The last outputs when the final model is exactly the one evaluated last, else None."""
        state, restore = self.trainer.state, self.trainer.recipe.train.restore_best
        if finalize_changes_weights or self.evaluator.scaler is not None or self.step != state.step:
            return None
        if restore and state.best_step is not None and state.best_step != state.step:
            return None
        return self.outputs

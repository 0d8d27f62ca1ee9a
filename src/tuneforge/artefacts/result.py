"""What :func:`tuneforge.finetune` returns: metrics, the run folder, and a model that predicts."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from ..data.bundle import Split
from ..data.encode import encode_split
from ..data.modalities import MODALITIES
from ..evaluation import predict_outputs


@dataclass
class FinetuneResult:
    recipe: Any
    metrics: dict
    run_dir: Path
    model: Any                      # TaskModel
    task: Any
    label_names: Optional[list[str]]
    data_section: Any
    decision: Optional[dict] = None   # settings the task tuned on validation (e.g. per-label thresholds)

    def predict(self, inputs: Sequence, batch_size: int = 64) -> list[dict]:
        """Predict raw inputs (texts, or images as file paths / arrays).

        What each row becomes is the task's choice (``Task.predict_rows``), e.g.
        classification: ``[{"label": "positive", "probabilities": {"negative": 0.1, ...}}, ...]``;
        regression: ``[{"value": 3.2}, ...]`` in original units.
        """
        return predict_raw(self.model, self.task, self.label_names, self.data_section, inputs, batch_size,
                           self.decision)


def predict_raw(model, task, label_names, data_section, inputs: Sequence, batch_size: int = 64,
                decision: Optional[dict] = None) -> list[dict]:

    inputs = list(inputs)
    own = task.raw_predictions(model, inputs, data_section, batch_size)
    if own is not None:
        return own
    split = Split(MODALITIES.get(task.modality).raw_inputs(inputs, data_section), task.empty_targets(len(inputs)))
    device = next(model.parameters()).device
    outputs = predict_outputs(model, encode_split(split, model, data_section), batch_size, device)
    return task.predict_for_inputs(outputs, label_names, decision, split.inputs)

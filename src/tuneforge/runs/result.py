"""What :func:`tuneforge.finetune` returns: metrics, the run folder, and a model that predicts."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch

from ..data.bundle import Split


@dataclass
class FinetuneResult:
    recipe: Any
    metrics: dict
    run_dir: Path
    model: Any                      # TaskModel
    task: Any
    label_names: Optional[list[str]]
    data_section: Any

    def predict(self, inputs: Sequence, batch_size: int = 64) -> list[dict]:
        """Predict raw inputs (texts, or images as file paths / arrays).

        Classification: ``[{"label": "positive", "probabilities": {"negative": 0.1, ...}}, ...]``;
        regression: ``[{"value": 3.2}, ...]`` in original units.
        """
        return predict_raw(self.model, self.task, self.label_names, self.data_section, inputs, batch_size)


def predict_raw(model, task, label_names, data_section, inputs: Sequence, batch_size: int = 64) -> list[dict]:
    from ..data.encode import encode_split
    from ..data.images import decode_images
    from ..evaluation import predict_outputs

    inputs = list(inputs)
    if task.modality == "image":
        pixels = decode_images(inputs, data_section.image_size, None, None, "predict inputs")
        split = Split(pixels, np.zeros(len(inputs), dtype=np.int64 if task.classification else np.float32))
    else:
        split = Split([str(x) for x in inputs], np.zeros(len(inputs), dtype=np.int64 if task.classification else np.float32))
    device = next(model.parameters()).device
    outputs = predict_outputs(model, encode_split(split, model, data_section), batch_size, device)
    if not task.classification:
        return [{"value": float(v)} for v in np.asarray(outputs).reshape(-1)]
    probs = torch.softmax(torch.as_tensor(outputs, dtype=torch.float32), dim=-1).numpy()
    names = label_names or [str(i) for i in range(probs.shape[1])]
    return [{"label": names[int(row.argmax())], "probabilities": {n: float(v) for n, v in zip(names, row)}}
            for row in probs]

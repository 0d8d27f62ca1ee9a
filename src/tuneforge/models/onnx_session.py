"""An ONNX file seen as a model: an onnxruntime session behind the ``model(batch) -> outputs`` call.

tuneforge scores models through :func:`tuneforge.evaluation.predict_outputs`, which takes a
module that maps a batch (a dict of tensors, as the run's data encodes it) to raw outputs. This
wrapper gives an ONNX file that shape, so an exported (or quantised) file is scored by the very
code, batching and metrics that scored the PyTorch model. onnxruntime runs on the CPU with as
many threads as PyTorch is set to use, so latencies of the two are compared on equal terms.

Example::

    onnx_model = OnnxModel(Path("runs/r/model/model.int8.onnx"), ["input_ids", "attention_mask"])
    logits = predict_outputs(onnx_model, encoded_test, batch_size=64)
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch
from torch import nn


class OnnxModel(nn.Module):
    """``OnnxModel(path, input_names)(batch)`` -> the file's ``logits`` as a float32 tensor.

    ``input_names``: the batch entries to feed (default: the inputs the graph names)."""

    def __init__(self, path: Path, input_names: Optional[list[str]] = None, threads: Optional[int] = None):
        super().__init__()
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3   # errors only
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.names = list(input_names or [i.name for i in self.session.get_inputs()])

    def forward(self, batch: dict) -> torch.Tensor:
        missing = [n for n in self.names if n not in batch]
        if missing:
            raise ValueError(f"the graph wants inputs {', '.join(missing)} that the run's data does not give")
        feed = {n: batch[n].detach().cpu().numpy() for n in self.names}
        return torch.from_numpy(self.session.run(["logits"], feed)[0])

"""Export a fine-tuned TaskModel to ONNX and check onnxruntime's outputs against PyTorch's.

``torch.onnx.export(..., dynamo=True)`` (torch.export + onnxscript, PyTorch's recommended
exporter) traces the model on a sample batch; the batch axis of every input is dynamic, and so
is the sequence axis of token inputs (``input_ids``, ``attention_mask``, ``token_type_ids``) and
of raw audio (``input_values``). Image inputs keep their trained size. The output is the
model's raw scores, named ``logits`` (``[batch, outputs]``; ``[batch, sequence, labels]`` for
token classification; regression in the target's original units).

The file is then run with onnxruntime on other real examples (a different batch size and
length, so the dynamic axes are exercised) and compared with the PyTorch model: the largest
absolute difference must stay within ``tolerance * max(1, max |PyTorch output|)``; otherwise the
file is removed and a ModelError says by how much it differed.

Causal language models are refused: generation needs a key/value cache loop that a single
forward graph does not carry (export those with Hugging Face Optimum).

Example::

    result = export_onnx(model, sample_batch, check_batch, Path("runs/r/model/model.onnx"))
    result.max_abs_diff   # e.g. 3.6e-08
"""
from __future__ import annotations

import re
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from ..data.modalities import MODALITIES
from ..errors import ModelError
from ..extras import require_extra
from .task_model import TaskModel

TOKEN_INPUTS = MODALITIES.get("text").model_inputs   # ("input_ids", "attention_mask", "token_type_ids")
ONNX_NEEDS = "tuneforge export --onnx"   # what names the onnx extra (onnx, onnxscript, onnxruntime) when missing
DEFAULT_TOLERANCE = 1e-4
_MAX_SINGLE_FILE = 1.8e9  # bytes of weights that still fit in one protobuf file (limit 2 GB)


@dataclass
class OnnxResult:
    """What was exported and how closely onnxruntime reproduced PyTorch."""

    path: str
    inputs: dict            # name -> {"dtype", "dynamic_axes": {axis: name}}
    outputs: list
    opset: Optional[int]
    max_abs_diff: float
    tolerance: float
    checked_examples: int

    def to_dict(self) -> dict:
        return asdict(self)


class _Positional(nn.Module):
    """The TaskModel behind positional tensor inputs (what an ONNX graph takes)."""

    def __init__(self, model: TaskModel, names: list[str]):
        super().__init__()
        self.model, self.names = model, names

    def forward(self, *inputs):
        return self.model(dict(zip(self.names, inputs)))


def input_names(model: TaskModel, batch: dict) -> list[str]:
    """The batch keys the model reads, in a fixed order."""
    if model.auto_class == "AutoModelForCausalLM" or type(model.net).__name__.endswith("ForCausalLM"):
        raise ModelError("tuneforge export --onnx: causal language models are not exported; generation needs a "
                         "key/value cache loop that one forward graph does not hold (use Hugging Face Optimum: "
                         "optimum-cli export onnx --model RUN/model OUT)")
    return [n for n in MODALITIES.get(model.modality).model_inputs if n in batch]


def _dynamic_axes(name: str) -> dict[int, str]:
    if name == "pixel_values":
        return {0: "batch"}
    return {0: "batch", 1: "sequence" if name in TOKEN_INPUTS else "samples"}


def export_onnx(model: TaskModel, sample: dict, check: dict, path: Path, opset: Optional[int] = None,
                tolerance: float = DEFAULT_TOLERANCE) -> OnnxResult:
    """Write ``model`` to ``path`` (traced on ``sample``) and compare onnxruntime with PyTorch on ``check``.

    ``sample`` and ``check`` are batches as the run's data encodes them (extra keys such as
    ``labels`` are ignored). Raises ModelError when the export fails or the outputs differ by more
    than the tolerance (the file is then removed); MissingExtra without the ``onnx`` extra.
    """
    require_extra("onnx", ONNX_NEEDS)
    path = Path(path)
    model = model.eval()
    names = input_names(model, sample)
    if not names:
        raise ModelError(f"tuneforge export --onnx: the batch holds none of the inputs a {model.modality} model reads")
    dims = {}
    shapes = []
    for n in names:
        spec = {}
        for axis, dim_name in _dynamic_axes(n).items():
            spec[axis] = dims.setdefault(dim_name, torch.export.Dim(dim_name))
        shapes.append(spec)
    args = tuple(sample[n] for n in names)
    size = sum(p.numel() * p.element_size() for p in model.parameters())
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + ".data")):
        stale.unlink(missing_ok=True)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*axis name.*will not be used", category=UserWarning)
            torch.onnx.export(_Positional(model, names).eval(), args, str(path), input_names=names, output_names=["logits"],
                              opset_version=opset, dynamic_shapes=(tuple(shapes),), dynamo=True,
                              external_data=size > _MAX_SINGLE_FILE, verbose=False)
    except Exception as e:  # torch.export raises many error types; the first line says what failed
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()   # the exporter colours its messages
        text = text.splitlines()[0] if text else type(e).__name__
        raise ModelError(f"tuneforge export --onnx: torch.onnx.export could not export this model ({text})") from None
    diff, examples = _compare(model, path, names, check)
    limit = tolerance * max(1.0, diff[1])
    if not diff[0] <= limit:
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".data").unlink(missing_ok=True)
        raise ModelError(f"tuneforge export --onnx: onnxruntime's outputs differ from PyTorch's by up to {diff[0]:.3g} "
                         f"on {examples} examples (tolerance {limit:.3g}); the file was not kept")
    import onnx
    opset_used = next((o.version for o in onnx.load(str(path), load_external_data=False).opset_import
                       if o.domain in ("", "ai.onnx")), opset)
    inputs = {n: {"dtype": str(sample[n].dtype).replace("torch.", ""), "dynamic_axes": _dynamic_axes(n)} for n in names}
    return OnnxResult(str(path), inputs, ["logits"], opset_used, diff[0], tolerance, examples)


def _compare(model: TaskModel, path: Path, names: list[str], check: dict) -> tuple[tuple[float, float], int]:
    """((max |onnxruntime - PyTorch|, max |PyTorch|), examples) on ``check``."""
    import onnxruntime as ort
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = model({n: check[n] for n in names}).float().cpu().numpy()
    got = session.run(["logits"], {n: check[n].cpu().numpy() for n in names})[0]
    if got.shape != expected.shape:
        raise ModelError(f"tuneforge export --onnx: onnxruntime gave outputs of shape {got.shape}, PyTorch "
                         f"{expected.shape}")
    import numpy as np
    return (float(np.abs(got - expected).max()), float(np.abs(expected).max())), int(expected.shape[0])

"""``tuneforge export RUN [--onnx [--quantize int8]]``: a finished run's model in the formats others load.

Always (re)writes the model cards (``model/README.md``, ``adapter/README.md``; see
:mod:`tuneforge.artefacts.model_card`), which also makes an older run's ``adapter/`` loadable as
documented. With ``--onnx`` it writes ``model/model.onnx`` and ``model/onnx.json`` (input names,
dtypes and dynamic axes, the output, the opset, label names, the preprocessing and the check),
after running onnxruntime on real examples of the run's own data (its test split, else
validation, else train) against the PyTorch model. ``--quantize int8`` adds ``model/model.int8.onnx``,
scored beside the fp32 file and timed (see :mod:`tuneforge.artefacts.onnx_int8`).

Example::

    export_run(Path("runs/demo-20261204-031500"), onnx=True)
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np

from ..data.modalities import MODALITIES
from ..errors import TuneforgeError
from ..extras import require_extra
from ..models.onnx_export import DEFAULT_TOLERANCE, ONNX_NEEDS, export_onnx
from .model_card import write_model_cards
from .onnx_int8 import check_quantize, quantize_and_score
from ..report.run_report import write_report_quietly
from ..terminal import print_path
from .evaluate_run import load_finished_run
from ..data import load_data

ONNX_FILE, ONNX_INFO = "model.onnx", "onnx.json"


def export_run(run_dir, onnx: bool = False, opset: Optional[int] = None, tolerance: float = DEFAULT_TOLERANCE,
               console=None, quantize: Optional[str] = None) -> dict:
    """Write the cards (and the ONNX model); returns ``{"cards": [...], "onnx": {...} or None}``."""
    from rich.console import Console


    console = console or Console()
    run_dir = Path(run_dir)
    check_quantize(quantize, onnx)
    if onnx:   # a missing extra is said before the run is loaded
        require_extra("onnx", ONNX_NEEDS)
    recipe, task, model = load_finished_run(run_dir)
    if not (run_dir / "metrics.json").is_file():
        raise TuneforgeError(f"{run_dir} has no metrics.json: the run has not finished")
    info = None
    if onnx:
        sample, check = _real_batches(recipe, task, model)
        result = export_onnx(model.cpu(), sample, check, run_dir / "model" / ONNX_FILE, opset, tolerance)
        info = {**result.to_dict(), "path": ONNX_FILE, "label_names": model.label_names,
                "preprocessing": _preprocessing(model)}
        console.print(f"onnx: inputs {', '.join(result.inputs)} -> logits, opset {result.opset}; onnxruntime vs "
                      f"PyTorch on {result.checked_examples} examples of the run's data: max abs diff "
                      f"{result.max_abs_diff:.3g} (tolerance {tolerance:g})")
        print_path(console, "onnx", run_dir / "model" / ONNX_FILE)
        if quantize:
            info["int8"] = quantize_and_score(run_dir, recipe, task, model, result.inputs, console)
            print_path(console, "onnx int8", run_dir / "model" / info["int8"]["path"])
        (run_dir / "model" / ONNX_INFO).write_text(json.dumps(info, indent=2), encoding="utf-8")
        if quantize and (run_dir / "report.html").is_file():
            write_report_quietly(run_dir, console)
    cards = write_model_cards(run_dir)
    for card in cards:
        print_path(console, "model card", card)
    return {"cards": [str(c) for c in cards], "onnx": info}


def _real_batches(recipe, task, model) -> tuple[dict, dict]:
    """Two batches of the run's own examples: 2 to trace the graph, up to 6 others to check it."""

    bundle = load_data(recipe.data, task, recipe.train.seed)
    split = next((s for s in (bundle.test, bundle.validation, bundle.train) if s is not None and len(s)), None)
    if split is None:
        raise TuneforgeError("tuneforge export --onnx: the run's data has no examples to check the export on")
    encoded = task.encode_split(split, model, recipe.data, "test", recipe.train.seed)
    n = len(split)
    sample = encoded.batch(np.arange(min(2, n)))
    check = encoded.batch(np.arange(2, min(8, n)) if n > 2 else np.arange(n))
    return sample, check


def _preprocessing(model) -> dict:
    """How inputs must be prepared, in words a user of the ONNX file can follow."""
    return MODALITIES.get(model.modality).onnx_preprocessing(model.preprocessor)

"""Dynamic int8 quantisation of an exported ONNX model (``tuneforge export RUN --onnx --quantize int8``).

onnxruntime's ``quantize_dynamic`` stores chosen weights as int8 and quantises the activations
that meet them on the fly (no calibration data). What is quantised, and why:

* ``MatMul`` and ``Gemm`` weights, **per output channel** (one scale per column, not one per
  matrix): a transformer's linear layers hold most of its weights, and per-channel scales keep
  one large column from flattening the others to zero (per-tensor int8 with every operator is
  the setting behind the reported collapse of a BERT classifier's precision from 0.826 to 0.494,
  huggingface/optimum #151);
* ``Gather`` weights (token embedding tables): a table lookup loses nothing to activation
  quantisation, and the table is half of a MiniLM's file;
* everything else stays fp32: convolutions (onnxruntime's CPU ``ConvInteger`` has no kernel
  for int8 weights, and depthwise convolutions are where int8 rounding hurts most), layer
  norms, softmax, the attention arithmetic. A convolutional network therefore shrinks only by
  its classifier.

Whatever the settings, the quantised file is always scored against the fp32 one on the run's
own examples (see :mod:`tuneforge.artefacts.onnx_int8`); these settings only make a good
outcome likely.

Example::

    settings = quantize_int8(Path("runs/r/model/model.onnx"), Path("runs/r/model/model.int8.onnx"))
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from ..errors import ModelError

INT8_OPERATORS = ("MatMul", "Gemm", "Gather")


def quantize_int8(fp32_path: Path, int8_path: Path) -> dict:
    """Write ``int8_path``, the dynamic int8 version of ``fp32_path``; returns the settings used (JSON-ready).

    The fp32 graph first goes through onnxruntime's pre-processing (shape inference and graph
    optimisation), which gives the quantiser the shapes it needs; where that step fails the graph
    is quantised as exported. Raises ModelError when quantisation fails.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32_path, int8_path = Path(fp32_path), Path(int8_path)
    int8_path.unlink(missing_ok=True)
    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)   # the quantiser logs a line per skipped node at WARNING
    try:
        with tempfile.TemporaryDirectory() as tmp:
            source, preprocessed = fp32_path, Path(tmp) / "pre.onnx"
            try:
                # onnx's own shape inference: onnxruntime's symbolic one leaves a temporary file in the
                # working directory when it cannot infer every shape (dynamic sequence axes)
                quant_pre_process(str(fp32_path), str(preprocessed), skip_symbolic_shape=True)
                source = preprocessed
            except Exception:  # noqa: BLE001  (an optional step: the exported graph quantises without it)
                source = fp32_path
            quantize_dynamic(str(source), str(int8_path), op_types_to_quantize=list(INT8_OPERATORS),
                             per_channel=True, reduce_range=False, weight_type=QuantType.QInt8)
    except Exception as e:  # the quantiser raises many error types; its first line says what failed
        int8_path.unlink(missing_ok=True)
        text = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ModelError(f"tuneforge export --quantize int8: onnxruntime could not quantise the model ({text})") from None
    finally:
        logging.getLogger().setLevel(quiet)
    return {"method": "onnxruntime.quantization.quantize_dynamic", "weight_type": "int8 (QInt8)",
            "activations": "uint8, quantised per call", "per_channel": True, "reduce_range": False,
            "operators": list(INT8_OPERATORS), "preprocessed": source != fp32_path}

"""``tuneforge export RUN --onnx --quantize int8``: the int8 file, and whether it is as good as fp32.

After ``model/model.onnx`` is written and checked, :func:`quantize_and_score`

1. writes ``model/model.int8.onnx`` (dynamic int8, see :mod:`tuneforge.models.onnx_quantize`);
2. scores the fp32 and the int8 file on the run's test split (else its validation split) with the
   task's own metrics, decision settings (e.g. multi-label thresholds) and bootstrap intervals;
3. compares them on the same examples with the task's paired bootstrap (what ``compare`` and the
   baseline comparison use), on the run's monitored metric (``evaluate.metric``, else the task's
   default);
4. times PyTorch fp32, ONNX fp32 and ONNX int8 per example at batch 1 and batch 32 on this CPU
   (one warm-up pass, then the median of ``repeats`` passes; onnxruntime gets as many threads as
   PyTorch);
5. recommends a file. **The rule**: int8 is *significantly worse* when the interval of the paired
   difference (int8 minus fp32, oriented so that positive is better) lies entirely below zero; the
   fp32 file ``model.onnx`` is then the one to use, and the words say so. It is also the one named
   when the int8 file is more than 0.9x its size (a convolutional network, whose convolutions stay
   fp32, gains nothing). Otherwise ``model.int8.onnx`` is recommended, with its observed difference
   and interval shown so that a small split's wide interval is visible.

Everything goes to ``onnx.json`` under ``"int8"``, to the terminal, and to the run's report.

Example::

    info["int8"] = quantize_and_score(run_dir, recipe, task, model, info["inputs"], console)
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import TuneforgeError
from ..evaluation import predict_outputs
from ..evaluation.metrics import greater_is_better
from ..evaluation.vs_baseline import compare_to_baseline
from ..models.onnx_quantize import quantize_int8
from ..models.onnx_session import OnnxModel
from .check_rows import check_split

QUANTIZE_CHOICES = ("int8",)
INT8_FILE = "model.int8.onnx"
LATENCY_BATCHES = (1, 32)
BATCH_ONE_EXAMPLES = 8   # batch-1 latency is the mean over this many different examples (per pass)
WORTH_IT_RATIO = 0.9     # an int8 file larger than this share of the fp32 file is not worth recommending


def check_quantize(quantize, onnx: bool) -> None:
    """A usage error for ``--quantize`` in one clear message."""
    if quantize is None:
        return
    if quantize not in QUANTIZE_CHOICES:
        raise TuneforgeError(f"--quantize {quantize!r}: the choices are {', '.join(QUANTIZE_CHOICES)}")
    if not onnx:
        raise TuneforgeError("--quantize int8 quantises the ONNX model: add --onnx "
                             "(tuneforge export RUN --onnx --quantize int8)")


def quantize_and_score(run_dir: Path, recipe, task, model, input_names, console, repeats: int = 5) -> dict:
    """Quantise ``model/model.onnx``, score both files and time all three models; returns the JSON section."""
    folder = Path(run_dir) / "model"
    fp32_path, int8_path = folder / "model.onnx", folder / INT8_FILE
    settings = quantize_int8(fp32_path, int8_path)
    names = list(input_names)
    fp32, int8 = OnnxModel(fp32_path, names), OnnxModel(int8_path, names)
    model = model.cpu().eval()

    split_name, split = check_split(recipe, task, "tuneforge export --quantize")
    encoded = task.encode_split(split, model, recipe.data, "test", recipe.train.seed)
    decision = task.read_decision(folder)
    ev = recipe.evaluate
    resamples, seed = ev.bootstrap or 1000, recipe.train.seed
    metric = ev.metric or task.default_metric()
    targets = split.targets
    scored = {}
    for key, onnx_model in (("fp32", fp32), ("int8", int8)):
        outputs = predict_outputs(onnx_model, encoded, ev.batch_size, "cpu")
        scored[key] = (outputs, task.compute_metrics(targets, outputs, model.label_names, decision),
                       task.test_statistics(targets, outputs, model.label_names,
                                            ev.model_copy(update={"bootstrap": resamples}), seed, decision)["test_ci"])
    greater = greater_is_better(metric)
    vs = compare_to_baseline(task.metric_kind, metric, greater, targets, scored["int8"][0], scored["fp32"][0],
                             resamples, ev.confidence, seed, paired=task.paired_bootstrap)
    ci = vs["ci"]
    worse = bool(np.all(np.isfinite(ci)) and (ci[1] < 0 if greater else ci[0] > 0))
    sizes = {"fp32_bytes": _size(fp32_path), "int8_bytes": _size(int8_path)}
    sizes["ratio"] = sizes["int8_bytes"] / sizes["fp32_bytes"]
    latency = _latencies(encoded, {"pytorch_fp32": model, "onnx_fp32": fp32, "onnx_int8": int8}, repeats)
    result = {"path": INT8_FILE, "settings": settings, "split": split_name, "examples": len(split),
              "metric": metric, "greater_is_better": greater, "confidence": ev.confidence, "bootstrap": resamples,
              "fp32": {"metrics": scored["fp32"][1], "ci": scored["fp32"][2]},
              "int8": {"metrics": scored["int8"][1], "ci": scored["int8"][2]},
              "difference": {k: vs[k] for k in ("difference", "ci", "p_value", "method")},
              "significantly_worse": worse,
              "recommended": "model.onnx" if worse or sizes["ratio"] > WORTH_IT_RATIO else INT8_FILE,
              "size": sizes, "latency": latency, "threads": torch.get_num_threads()}
    result["verdict"] = int8_verdict(result)
    _print(console, result)
    return result


def int8_verdict(r: dict) -> str:
    """The recommendation in words (the terminal and the report show this sentence)."""
    m, d = r["metric"], r["difference"]
    before, after = r["fp32"]["metrics"].get(m), r["int8"]["metrics"].get(m)
    detail = (f"{m} {before:.4f} (fp32) -> {after:.4f} (int8), difference {d['difference']:+.4f}, "
              f"{r['confidence']:.0%} interval [{d['ci'][0]:+.4f}, {d['ci'][1]:+.4f}], p={d['p_value']:.3f}, "
              f"paired bootstrap on {r['examples']} {r['split']} examples")
    if r["significantly_worse"]:
        return (f"int8 is significantly worse than fp32 ({detail}): use the fp32 file model/model.onnx, "
                f"not model/{r['path']}.")
    if r["recommended"] == "model.onnx":
        return (f"int8 is not significantly worse than fp32 ({detail}), but its file is {r['size']['ratio']:.2f}x "
                f"the fp32 file's size (little of this model is quantisable): use the fp32 file model/model.onnx.")
    return (f"int8 is not significantly worse than fp32 ({detail}): model/{r['path']} is recommended, "
            f"{r['size']['ratio']:.2f}x the fp32 file's size.")


def _size(path: Path) -> int:
    data = path.with_name(path.name + ".data")
    return path.stat().st_size + (data.stat().st_size if data.is_file() else 0)


def _latencies(encoded, models: dict, repeats: int) -> dict:
    """Seconds per example of each model at batch 1 and batch 32: ``{"batch_1": {name: s}, ...}`` plus ratios
    to PyTorch fp32."""
    n = len(encoded)
    out = {}
    for size in LATENCY_BATCHES:
        if size == 1:
            batches = [encoded.batch(np.array([i]), train=False) for i in range(min(BATCH_ONE_EXAMPLES, n))]
        else:
            batches = [encoded.batch(np.arange(size) % n, train=False)]
        examples = size * len(batches)
        times = {name: _median_seconds(lambda m=m: [m(b) for b in batches], repeats) / examples
                 for name, m in models.items()}
        times["int8_vs_pytorch"] = times["onnx_int8"] / times["pytorch_fp32"]
        times["int8_vs_onnx_fp32"] = times["onnx_int8"] / times["onnx_fp32"]
        out[f"batch_{size}"] = times
    return out


def _median_seconds(run: Callable[[], object], repeats: int) -> float:
    with torch.inference_mode():
        run()   # warm-up: first-call allocations and lazy initialisation
        times = []
        for _ in range(max(1, repeats)):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def _print(console, r: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    m = r["metric"]
    table = Table(title=f"int8 ONNX beside fp32 ({r['examples']} {r['split']} examples, "
                        f"{r['threads']} CPU thread{'s' if r['threads'] != 1 else ''})")
    for h in ("", "PyTorch fp32", "ONNX fp32", "ONNX int8"):
        table.add_column(h, justify="right")
    mb = lambda b: f"{b / 1e6:.1f} MB"  # noqa: E731
    table.add_row("file size", "", mb(r["size"]["fp32_bytes"]),
                  f"{mb(r['size']['int8_bytes'])} ({r['size']['ratio']:.2f}x)")
    for key, lat in r["latency"].items():
        table.add_row(f"{key.replace('_', ' ')}, ms/example", f"{lat['pytorch_fp32'] * 1e3:.3g}",
                      f"{lat['onnx_fp32'] * 1e3:.3g}", f"{lat['onnx_int8'] * 1e3:.3g} "
                      f"({lat['int8_vs_pytorch']:.2g}x PyTorch)")
    cells = []
    for key in ("fp32", "int8"):
        value, ci = r[key]["metrics"].get(m), r[key]["ci"].get(m)
        cells.append(f"{value:.4f}" + (f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else ""))
    table.add_row(escape(f"{m} [{r['confidence']:.0%}]"), "", *map(escape, cells))
    console.print(table)
    colour = "red" if r["significantly_worse"] else "green"
    console.print(f"[{colour}]{escape(r['verdict'])}[/{colour}]")

"""int8 ONNX benchmark: size, latency and macro-F1 of `tuneforge export RUN --onnx --quantize int8`.

    python bench/onnx_int8.py                      # MiniLM-L6 on tweets and EfficientNet-Lite0 on Fashion-MNIST
    python bench/onnx_int8.py --cases minilm --out /tmp/int8-bench

For each case it trains a small real run (1 epoch on a few hundred rows; a finished run already in
``--out`` is reused), exports it with ``--onnx --quantize int8`` (which scores fp32 and int8 ONNX on
the run's test split with the paired bootstrap and times PyTorch fp32, ONNX fp32 and ONNX int8 at batch
1 and 32 on this CPU), and prints the size ratio, the latency ratios to PyTorch fp32 and macro-F1
before and after with intervals. The issue's targets for MiniLM-L6: int8 file at most 0.35x the fp32
file, batch-1 latency at most 0.6x PyTorch fp32, macro-F1 not significantly lower. EfficientNet-Lite0's
numbers are reported as they are (its convolutions stay fp32: see tuneforge/models/onnx_quantize.py).
Results go to ``bench/results/onnx_int8.json``. Latencies depend on the machine's load: measure on an
idle machine for numbers to record. This is a measurement, not a test.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

CASES = {
    "minilm": {"title": "MiniLM-L6 on tweets (3 classes)", "targets": True,
               "recipe": {"name": "int8-minilm", "task": "text-classification", "model": {"name": "minilm-l6"},
                          "data": {"train": "tweets", "text_column": "text", "label_column": "sentiment",
                                   "validation": 0.1, "test": 0.2, "max_length": 64},
                          "train": {"epochs": 1, "batch_size": 32}}},
    "effnet": {"title": "EfficientNet-Lite0 on Fashion-MNIST (10 classes, 64 px)", "targets": False,
               "recipe": {"name": "int8-effnet", "task": "image-classification",
                          "model": {"name": "efficientnet-lite0"},
                          "data": {"train": "fashion-mnist", "validation": 0.1, "test": 0.2, "image_size": 64},
                          "train": {"epochs": 1, "batch_size": 32}}},
}
TARGET_SIZE, TARGET_BATCH1 = 0.35, 0.6


def finished_run(name: str, args) -> Path:
    """The case's run folder under ``--out``: reused when finished, else trained now."""
    import tuneforge

    runs = args.out / "runs"
    done = sorted((p for p in runs.glob(f"{CASES[name]['recipe']['name']}*") if (p / "metrics.json").is_file()
                   and (p / "model").is_dir()), key=lambda p: p.stat().st_mtime)
    if done and not args.retrain:
        return done[-1]
    recipe = json.loads(json.dumps(CASES[name]["recipe"]))
    recipe["data"].update({"max_train_samples": args.train, "max_eval_samples": args.eval})
    recipe["train"]["epochs"] = args.epochs
    recipe["evaluate"] = {"explain": 0, "report": True, "bootstrap": args.bootstrap, "metric": "macro_f1"}
    recipe["output"] = {"dir": str(runs)}
    return tuneforge.finetune(recipe, quiet=True).run_dir


def measure(name: str, args) -> dict:
    from tuneforge.artefacts.export_run import export_run

    run_dir = finished_run(name, args)
    r = export_run(run_dir, onnx=True, quantize="int8")["onnx"]["int8"]
    m = r["metric"]
    row = {"case": name, "title": CASES[name]["title"], "run_dir": str(run_dir), "metric": m,
           "test_examples": r["examples"], "size_ratio": r["size"]["ratio"],
           "fp32_mb": r["size"]["fp32_bytes"] / 1e6, "int8_mb": r["size"]["int8_bytes"] / 1e6,
           "latency_ms": {b: {k: v * 1e3 for k, v in lat.items() if not k.startswith("int8_vs")}
                          for b, lat in r["latency"].items()},
           "int8_vs_pytorch": {b: lat["int8_vs_pytorch"] for b, lat in r["latency"].items()},
           "onnx_fp32_vs_pytorch": {b: lat["onnx_fp32"] / lat["pytorch_fp32"] for b, lat in r["latency"].items()},
           "fp32": [r["fp32"]["metrics"][m], r["fp32"]["ci"].get(m)],
           "int8": [r["int8"]["metrics"][m], r["int8"]["ci"].get(m)],
           "difference": r["difference"], "significantly_worse": r["significantly_worse"],
           "recommended": r["recommended"], "threads": r["threads"]}
    if CASES[name]["targets"]:
        row["targets"] = {f"size <= {TARGET_SIZE}x": row["size_ratio"] <= TARGET_SIZE,
                          f"batch-1 latency <= {TARGET_BATCH1}x PyTorch": row["int8_vs_pytorch"]["batch_1"] <= TARGET_BATCH1,
                          "macro-F1 not significantly lower": not row["significantly_worse"]}
    return row


def summary(row: dict) -> str:
    ci = lambda v: f"{v[0]:.4f} [{v[1][0]:.4f}, {v[1][1]:.4f}]" if v[1] else f"{v[0]:.4f}"  # noqa: E731
    d = row["difference"]
    lines = [f"{row['title']}  ({row['test_examples']} test examples, {row['threads']} threads)",
             f"  size: fp32 {row['fp32_mb']:.1f} MB, int8 {row['int8_mb']:.1f} MB -> {row['size_ratio']:.3f}x"]
    for b, lat in row["latency_ms"].items():
        lines.append(f"  {b.replace('_', ' ')}: PyTorch fp32 {lat['pytorch_fp32']:.3f} ms/example, ONNX fp32 "
                     f"{lat['onnx_fp32']:.3f} ({row['onnx_fp32_vs_pytorch'][b]:.2f}x), ONNX int8 "
                     f"{lat['onnx_int8']:.3f} ({row['int8_vs_pytorch'][b]:.2f}x PyTorch)")
    lines.append(f"  {row['metric']}: fp32 {ci(row['fp32'])} -> int8 {ci(row['int8'])}; difference "
                 f"{d['difference']:+.4f} [{d['ci'][0]:+.4f}, {d['ci'][1]:+.4f}], p={d['p_value']:.3f}; "
                 f"recommended {row['recommended']}")
    for target, ok in row.get("targets", {}).items():
        lines.append(f"  target {target}: {'met' if ok else 'NOT met'}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="minilm,effnet")
    ap.add_argument("--out", type=Path, default=Path("/tmp/tuneforge-bench-int8"))
    ap.add_argument("--train", type=int, default=400, help="training rows")
    ap.add_argument("--eval", type=int, default=400, help="validation and test rows (each at most)")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (onnxruntime gets the same); "
                    "default: PyTorch's own setting")
    ap.add_argument("--retrain", action="store_true", help="train again even when a finished run is in --out")
    args = ap.parse_args()
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    rows = [measure(name, args) for name in args.cases.split(",")]
    print()
    for row in rows:
        print(summary(row))
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "onnx_int8.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    print(f"written to {results / 'onnx_int8.json'}")


if __name__ == "__main__":
    sys.exit(main())

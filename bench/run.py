"""Benchmark tuneforge against the Hugging Face Trainer and a minimal hand-written loop.

    python bench/run.py --quick                 # under 10 minutes on a 2-core CPU
    python bench/run.py --cases minilm-full --precisions fp32,bf16 --reps 3

Each measurement runs in its own process (clean memory peak); implementations alternate within a
repetition so that drift of the machine hits all of them alike. Writes BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

IMPLS = ["tuneforge", "hf", "loop"]


def measure(impl, case, precision, epochs, samples) -> dict:
    cmd = [sys.executable, str(HERE / "one.py"), "--impl", impl, "--case", case, "--precision", precision,
           "--epochs", str(epochs), "--samples", str(samples)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return {"impl": impl, "error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def summarise(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"error": runs[0].get("error")}
    timed = [r for r in ok if r["epoch_seconds"]]   # a head solved in closed form trains no epoch: no speed
    first = [r["n"] / r["epoch_seconds"][0] for r in timed] or [float("nan")]
    later = [r["n"] / s for r in timed for s in r["epoch_seconds"][1:]] or first
    epochs = [s for r in timed for s in r["epoch_seconds"]] or [float("nan")]
    return {"sps_first": statistics.median(first), "sps_later": statistics.median(later),
            "epoch_s": statistics.median(epochs),
            "acc": ok[-1]["val_accuracy"][-1], "rss": max(r["peak_rss_mb"] for r in ok), "raw": ok}


def main():
    from cases import CASES
    from peak import matmul_gflops
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cases", default=None)
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--out", default=str(HERE.parent / "BENCHMARKS.md"))
    args = ap.parse_args()
    cases = args.cases.split(",") if args.cases else (["minilm-full", "minilm-frozen4", "effnet-probe"]
                                                      if args.quick else list(CASES))
    reps = args.reps or (1 if args.quick else 3)
    peak = {"fp32": matmul_gflops(torch.float32, 2048), "bf16": matmul_gflops(torch.bfloat16, 2048)}
    results = {}
    started = time.time()
    for case in cases:
        samples = CASES[case]["quick_samples" if args.quick else "samples"]
        for precision in args.precisions.split(","):
            runs = {impl: [] for impl in IMPLS}
            for _ in range(reps):
                for impl in IMPLS:
                    r = measure(impl, case, precision, args.epochs, samples)
                    runs[impl].append(r)
                    print(json.dumps({k: v for k, v in r.items() if k != "raw"}), flush=True)
            results[(case, precision)] = {impl: summarise(rs) for impl, rs in runs.items()}
    write_report(args, results, peak, time.time() - started)


def mfu(raw: dict, precision: str, peak: dict) -> str:
    tokens = raw.get("real_tokens_per_epoch")
    if not tokens or raw.get("frozen_prefix"):  # 6 x params x tokens only holds when every layer trains
        return "-"
    flops = 6 * raw["non_embedding_params"] * tokens
    per_s = flops / statistics.median(raw["epoch_seconds"]) / 1e9
    return f"{per_s:.0f} GFLOP/s ({100 * per_s / peak[precision]:.0f}%)"


def write_report(args, results, peak, seconds) -> None:
    cmd = "python bench/run.py " + " ".join(sys.argv[1:])
    lines = ["# Benchmarks", "",
             f"Command: `{cmd}` ({seconds / 60:.1f} min), {time.strftime('%Y-%m-%d')}, "
             f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores, "
             f"torch {__import__('torch').__version__}, transformers {__import__('transformers').__version__}.",
             f"Measured matrix-product peak: fp32 {peak['fp32']:.0f} GFLOP/s, bf16 {peak['bf16']:.0f} GFLOP/s.",
             "", "Samples/s of training only (evaluation excluded); `later` = epochs after the first.",
             "Ratios are tuneforge / Hugging Face Trainer on the same model, data, batch, length and precision.",
             "Achieved FLOP/s counts 6 x non-embedding parameters x real (non-padding) tokens (attention excluded)",
             "per second of the median epoch, as a share of the measured matrix-product peak of the same precision;",
             "shown for full fine-tuning only (frozen layers and the frozen-prefix cache change the work done).", "",
             "| case | precision | impl | samples/s first | samples/s later | ratio later vs HF | val acc | peak RSS MB | achieved |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (case, precision), by_impl in results.items():
        hf = by_impl.get("hf", {})
        for impl, s in by_impl.items():
            if "error" in s:
                lines.append(f"| {case} | {precision} | {impl} | error: {s['error'][:80]} | | | | | |")
                continue
            ratio = f"{s['sps_later'] / hf['sps_later']:.2f}" if "sps_later" in hf else "-"
            lines.append(f"| {case} | {precision} | {impl} | {s['sps_first']:.1f} | {s['sps_later']:.1f} | "
                         f"{ratio} | {s['acc']:.3f} | {s['rss']:.0f} | {mfu(s['raw'][0], precision, peak)} |")
    Path(args.out).write_text("\n".join(lines) + "\n\nGPU path: unmeasured (no GPU on this machine).\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

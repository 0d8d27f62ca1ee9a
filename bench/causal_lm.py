"""Causal-LM benchmark: SmolLM2-135M LoRA vs full fine-tuning in tuneforge, and LoRA in the HF Trainer and TRL.

    python bench/causal_lm.py --train 64 --eval 32 --reps 1

Each arm runs as its own process (``bench/lm_one.py``: see there what every arm shares), so memory
peaks don't mix; arms alternate within each repetition so that load on a shared machine hits all of
them alike. Reports held-out response perplexity before/after with 95% bootstrap intervals (tuneforge
arms), training tokens/s, the tokens/s ratio of tuneforge LoRA to the HF Trainer and to TRL, and the
peak-RSS ratio of LoRA to full fine-tuning. Writes ``bench/results/causal-lm.json`` and prints a table
for BENCHMARKS.md. A measurement, not a test.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["tuneforge-lora", "hf-lora", "trl-lora", "tuneforge-full"]


def measure(arm: str, extra: list[str]) -> dict:
    proc = subprocess.run([sys.executable, str(HERE / "lm_one.py"), "--arm", arm, *extra], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        return {"arm": arm, "error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ci(pair) -> str:
    return f" [{pair[0]:.2f}, {pair[1]:.2f}]" if pair else ""


def table(runs: dict[str, list[dict]], cmd: str) -> str:
    med = {a: statistics.median(r["tokens_per_second"] for r in rs) for a, rs in runs.items()
           if rs and all("error" not in r for r in rs)}
    lines = [f"Command: `{cmd}`", "",
             "| arm | perplexity before → after [95% CI] | tokens/s (median) | tuneforge LoRA / this | peak RSS MB | trainable params |",
             "|---|---|---|---|---|---|"]
    for arm, rs in runs.items():
        if arm not in med:
            lines.append(f"| {arm} | failed: {next(r['error'] for r in rs if 'error' in r)} | | | | |")
            continue
        r = rs[-1]
        ppl = f"{r['before']:.2f}{ci(r['before_ci'])} → {r['after']:.2f}{ci(r['after_ci'])}" if "after" in r else "-"
        ratio = f"{med['tuneforge-lora'] / med[arm]:.2f}" if "tuneforge-lora" in med else "-"
        lines.append(f"| {arm} | {ppl} | {med[arm]:.1f} | {ratio} | {max(x['peak_rss_mb'] for x in rs):.0f} | "
                     f"{r['trainable']:,} |")
    if "tuneforge-lora" in med and "tuneforge-full" in med:
        peak = lambda a: max(x["peak_rss_mb"] for x in runs[a])  # noqa: E731
        lines += ["", f"Peak RSS, tuneforge LoRA / full fine-tuning: {peak('tuneforge-lora') / peak('tuneforge-full'):.2f}."]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--arms", default=",".join(ORDER))
    args, extra = ap.parse_known_args()
    runs: dict[str, list[dict]] = {a: [] for a in args.arms.split(",")}
    for _ in range(args.reps):
        for arm in runs:
            runs[arm].append(measure(arm, extra))
            print(json.dumps(runs[arm][-1], default=float), flush=True)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "causal-lm.json").write_text(json.dumps(runs, indent=1, default=float))
    print(table(runs, "python bench/causal_lm.py " + " ".join(sys.argv[1:])))


if __name__ == "__main__":
    main()

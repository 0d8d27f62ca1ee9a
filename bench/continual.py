"""Continual fine-tuning on real data: how much each remedy against forgetting buys.

    python bench/continual.py                       # recipes/continual-fashion-mnist.yaml, 3 variants
    python bench/continual.py --variants none,replay --out /tmp/continual-bench
    python bench/continual.py --variants "" --ewc-weights 1,10,100   # EWC's weight, swept

Runs the shipped class-incremental Fashion-MNIST sequence (EfficientNet-Lite0, five tasks of two
classes) as it is (no remedy), with EWC, and with a replay buffer, each in one process after the
other, and prints the markdown table of average accuracy, forgetting, BWT and FWT (definitions in
docs/continual.md); the raw numbers go to bench/results/continual.json
(continual-<variants>.json for a subset).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
RECIPE = HERE.parent / "recipes" / "continual-fashion-mnist.yaml"
os.environ.setdefault("HF_HUB_OFFLINE", "1")

VARIANTS = {
    "none": {},
    "ewc": {"regularisers": [{"name": "ewc", "weight": 1000.0, "samples": 64}]},
    "replay": {"continual": {"head": "shared", "replay": {"size": 100}}},
}


def main(argv=None) -> int:
    import tuneforge

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--out", default="/tmp/tuneforge-continual-bench")
    ap.add_argument("--ewc-weights", default="", help="comma-separated EWC weights to run as extra variants "
                                                       "ewc-<weight> (the Fisher is mean-normalised)")
    args = ap.parse_args(argv)
    base = yaml.safe_load(RECIPE.read_text())
    variants = dict(VARIANTS)
    names = args.variants.split(",") if args.variants else []
    for w in filter(None, args.ewc_weights.split(",")):
        variants[f"ewc-{w}"] = {"regularisers": [{"name": "ewc", "weight": float(w), "samples": 64}]}
        names.append(f"ewc-{w}")
    rows = []
    for name in names:
        tree = {**base, **variants[name], "output": {"dir": args.out, "name": f"continual-{name}"}}
        started = time.perf_counter()
        result = tuneforge.finetune(tree, quiet=True)
        c = result.metrics["continual"]
        rows.append({"variant": name, "average_accuracy": c["average_accuracy"], "forgetting": c["forgetting"],
                     "bwt": c["bwt"], "fwt": c["fwt"], "matrix": c["matrix"],
                     "seconds": time.perf_counter() - started, "run_dir": str(result.run_dir)})
        print(json.dumps(rows[-1]), flush=True)
    (HERE / "results").mkdir(exist_ok=True)
    tag = "" if names == list(VARIANTS) else "-" + "-".join(names)
    (HERE / "results" / f"continual{tag}.json").write_text(json.dumps(rows, indent=2))
    print("\n| variant | average accuracy | forgetting | BWT | FWT | wall-clock |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['variant']} | {r['average_accuracy']:.3f} | {r['forgetting']:.3f} | {r['bwt']:+.3f} | "
              f"{r['fwt']:+.3f} | {r['seconds'] / 60:.1f} min |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The accuracy cost of differential privacy on the packaged tweets with MiniLM-L6 (issue 14).

    python bench/privacy.py --train-samples 800 --epochs 4 --out bench/results/privacy.json

Runs the same recipe (linear probe of the real MiniLM-L6, head trained by SGD, one split, one
seed) without privacy and with DP-SGD at epsilon 8, 3 and 1 (Opacus, delta = 1/(10 N)), and
prints test macro-F1 with its bootstrap confidence interval, the epsilon the accountant reports
and the noise multiplier. The non-private L-BFGS-solved probe (every run's frozen baseline) is
shown too (fitted in the non-private run only, to save time on a shared CPU).

Why a linear probe and not LoRA: DP-SGD's noise has the same norm per coordinate, so its total
grows with the square root of the trained parameter count while the clipped signal stays below
``max_grad_norm``: the head has 1,155 parameters, LoRA adapters on MiniLM tens of thousands. With 800 training
examples the head is where a private model can still learn (docs/privacy.md).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def recipe(args, out: Path, epsilon) -> dict:
    r = {"task": "text-classification", "model": {"name": "minilm-l6"},
         "data": {"train": "tweets", "label_column": "sentiment", "validation": 0.1, "test": 0.2, "max_length": 48,
                  "max_train_samples": args.train_samples, "max_eval_samples": args.eval_samples},
         "strategy": {"name": "linear-probe", "warm_head": False},
         "optimizer": {"name": "adamw", "lr": args.lr, "weight_decay": 0.0},
         "scheduler": {"name": "constant", "warmup": 0.0},
         "train": {"epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed, "precision": "fp32",
                   "class_balance": "none", "cache_frozen": "off"},
         "evaluate": {"explain": 0, "report": False, "bootstrap": 1000, "baseline": epsilon is None},
         "output": {"dir": str(out), "save_model": False}}
    if epsilon is not None:
        r["privacy"] = {"epsilon": epsilon, "max_grad_norm": args.max_grad_norm}
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-samples", type=int, default=800)
    ap.add_argument("--eval-samples", type=int, default=400)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--max-grad-norm", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--epsilons", default="none,8,3,1", help="comma-separated; 'none' is the non-private run")
    ap.add_argument("--out", default="bench/results/privacy.json")
    args = ap.parse_args()

    import tuneforge

    work = Path(args.out).with_suffix("")
    rows = []
    for eps in args.epsilons.split(","):
        epsilon = None if eps == "none" else float(eps)
        started = time.perf_counter()
        m = tuneforge.finetune(recipe(args, work, epsilon), quiet=True).metrics
        ci = (m.get("test_ci") or {}).get("macro_f1")
        p = m.get("privacy") or {}
        rows.append({"epsilon_target": epsilon, "epsilon_spent": p.get("epsilon"), "delta": p.get("delta"),
                     "noise_multiplier": p.get("noise_multiplier"), "steps": m["train"]["steps"],
                     "test_macro_f1": m["test"]["macro_f1"], "test_macro_f1_ci": ci,
                     "baseline_solved_probe_macro_f1": (m.get("baseline") or {}).get("macro_f1"),
                     "train_seconds": m["train"]["seconds"], "seconds": time.perf_counter() - started,
                     "sizes": m["data"]["sizes"]})
        print(json.dumps(rows[-1]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))
    print("| run | epsilon spent (delta) | noise multiplier | steps | test macro-F1 [95% CI] | train s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        name = "non-private (SGD)" if r["epsilon_target"] is None else f"DP-SGD, epsilon {r['epsilon_target']:g}"
        spent = "-" if r["epsilon_spent"] is None else f"{r['epsilon_spent']:.2f} ({r['delta']:.1e})"
        noise = "-" if r["noise_multiplier"] is None else f"{r['noise_multiplier']:.2f}"
        ci = f" [{r['test_macro_f1_ci'][0]:.3f}, {r['test_macro_f1_ci'][1]:.3f}]" if r["test_macro_f1_ci"] else ""
        print(f"| {name} | {spent} | {noise} | {r['steps']} | {r['test_macro_f1']:.3f}{ci} | {r['train_seconds']:.0f} |")
    print(f"| frozen probe solved by L-BFGS (non-private baseline) | - | - | - | "
          f"{rows[0]['baseline_solved_probe_macro_f1']:.3f} | - |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

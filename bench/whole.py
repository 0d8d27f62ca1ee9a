"""Whole-process time against training time: `tuneforge run` vs a Hugging Face Trainer process.

    python bench/whole.py --reps 2                     # minilm-full, 2 epochs, 1,800 training tweets

The work is the speed benchmark's (bench/one.py): the case's recipe with its overrides (2 epochs,
2,000 tweets of which 10% validate, baselines off). tuneforge runs as a user runs it, a fresh
``tuneforge run RECIPE --quiet`` process in its default precision (``auto``: bf16 on a bf16 CPU),
writing its whole run folder (model, metrics, diagnostics, report); its training time and phases come
from that run's metrics.json. The Trainer is ``bench/one.py --impl hf`` at its default fp32: a process
that loads, tokenises, trains with the Trainer and scores validation after each epoch. Each process's
wall-clock time is measured around it by this script (interpreter start included). The two
implementations alternate within each repetition so that a busy machine slows both alike.
Prints one JSON line per process and a Markdown table. tuneforge's time is given two ways: its optimizer
steps (``train.seconds``) and its fit (the ``training`` phase: the head solved before step 0, the steps,
the validation passes and checkpoints, as the Trainer's ``train_runtime`` counts evaluation and saving
when they are on).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def tuneforge_recipe(case: dict, epochs: int, samples: int, out: Path) -> Path:
    """The case's recipe with bench/one.py's overrides, as a file a user would run."""
    recipe = json.loads(json.dumps(case["recipe"]))
    recipe["data"].update({"max_train_samples": samples, "max_eval_samples": 500})
    recipe["train"].update({"epochs": epochs, "restore_best": False})
    recipe["scheduler"] = {"name": "linear", "warmup": 0.0}
    recipe["evaluate"] = {"baseline": False}
    recipe["output"] = {"dir": str(out / "runs")}
    path = out / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def run_tuneforge(recipe: Path) -> dict:
    before = set((recipe.parent / "runs").glob("*")) if (recipe.parent / "runs").exists() else set()
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "tuneforge.cli", "run", str(recipe), "--quiet"],
                         capture_output=True, text=True)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        return {"impl": "tuneforge", "error": out.stderr.strip().splitlines()[-1:]}
    (folder,) = set((recipe.parent / "runs").glob("*")) - before
    m = json.loads((folder / "metrics.json").read_text())
    return {"impl": "tuneforge", "wall": wall, "train": m["train"]["seconds"], "n": m["data"]["sizes"]["train"],
            "precision": m["precision"], "phases": m["phases"], "seconds_total": m["seconds_total"]}


def run_hf(case: str, epochs: int, samples: int) -> dict:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, str(HERE / "one.py"), "--impl", "hf", "--case", case, "--precision",
                          "fp32", "--epochs", str(epochs), "--samples", str(samples)], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        return {"impl": "hf", "error": out.stderr.strip().splitlines()[-1:]}
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return {"impl": "hf", "wall": wall, "train": sum(r["epoch_seconds"]), "n": r["n"], "precision": "fp32"}


def main():
    from cases import CASES

    ap = argparse.ArgumentParser()
    ap.add_argument("--case", default="minilm-full")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--samples", type=int, default=None, help="default: the case's full sample count")
    args = ap.parse_args()
    samples = args.samples or CASES[args.case]["samples"]
    runs = {"tuneforge": [], "hf": []}
    with tempfile.TemporaryDirectory(prefix="tuneforge-whole-") as tmp:
        recipe = tuneforge_recipe(CASES[args.case], args.epochs, samples, Path(tmp))
        for _ in range(args.reps):
            for r in (run_tuneforge(recipe), run_hf(args.case, args.epochs, samples)):
                print(json.dumps(r), flush=True)
                runs[r["impl"]].append(r)
    if any("error" in r for rs in runs.values() for r in rs):
        sys.exit("a process failed (see above)")
    med = {impl: {k: statistics.median(r[k] for r in rs) for k in ("wall", "train")} for impl, rs in runs.items()}
    tf, hf = med["tuneforge"], med["hf"]
    phases = {k: statistics.median(r["phases"].get(k, 0.0) for r in runs["tuneforge"])
              for k in runs["tuneforge"][0]["phases"]}
    fit = statistics.median(r["phases"]["training"] for r in runs["tuneforge"])  # the fit: solve, steps, validation
    print("\n| implementation | precision | training s (steps) | fit s | whole process s | whole / steps | whole / fit |"
          "\n|---|---|---|---|---|---|---|")
    for impl, m in med.items():
        fit_cells = f"{fit:.1f} | " if impl == "tuneforge" else "- | "
        ratio = f"{m['wall'] / fit:.2f}" if impl == "tuneforge" else "-"
        print(f"| {impl} | {runs[impl][0]['precision']} | {m['train']:.1f} | {fit_cells}{m['wall']:.1f} | "
              f"{m['wall'] / m['train']:.2f} | {ratio} |")
    print(f"\ntuneforge vs Trainer: training-only {hf['train'] / tf['train']:.2f}x faster, "
          f"whole process {hf['wall'] / tf['wall']:.2f}x faster")
    print("tuneforge phases (median s): " + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()))


if __name__ == "__main__":
    main()

"""Search against the HF Trainer at the same wall-clock budget, on the demo tweets with MiniLM-L6.

    python bench/search.py [--train 1200 --eval 600 --epochs 2] [--write]

1. one HF Trainer run with its defaults (bench/hf_default.py): its wall-clock T and its test macro-F1;
2. ``tuneforge search`` with the shipped default space and ``--timeout 3T`` (no new trial after 3T;
   then the best recipe's final run, measured on the test split);
3. the Trainer's own ``hyperparameter_search`` (Optuna backend) with the same 3T, then its best values
   trained once more and tested (bench/hf_search.py).
All three use the same examples, split and seed. Results go to bench/results/search-tweets.json and,
with ``--write``, into BENCHMARKS.md between ``<!-- quality:search:begin/end -->``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from quality import SETS, _hf_default, _recipe, write_between_markers  # noqa: E402


def _fmt(test: dict, ci: dict) -> str:
    v, c = test.get("macro_f1"), (ci or {}).get("macro_f1")
    return "-" if v is None else f"{v:.3f}" + (f" [{c[0]:.3f}, {c[1]:.3f}]" if c else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=None)
    ap.add_argument("--eval", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--budget", type=float, default=3.0, help="search budget in HF default runs")
    ap.add_argument("--out", default="/tmp/tuneforge-search-bench")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    out = Path(args.out) / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True)
    recipe = _recipe("tweets", args, out)
    t0 = time.perf_counter()
    hf = _hf_default(recipe, out)
    hf_wall = time.perf_counter() - t0
    budget = args.budget * hf_wall
    print(f"HF default: macro-F1 {hf['test'].get('macro_f1'):.3f} in {hf_wall:.0f}s; budget {budget:.0f}s", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "tuneforge.cli", "search", str(recipe), "--trials", "100",
                           "--timeout", f"{budget:.0f}", "--study", "search-bench"], cwd=ROOT, capture_output=True,
                          text=True)
    tf_wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    summary = json.loads((out / "runs" / "search-bench" / "search.json").read_text())
    print(f"tuneforge search: {summary['counts']} best {summary['best']['params']} test "
          f"{_fmt(summary['final']['test'], summary['final']['test_ci'])} in {tf_wall:.0f}s", flush=True)
    t0 = time.perf_counter()
    hfs = subprocess.run([sys.executable, str(HERE / "hf_search.py"), str(recipe), "--timeout", f"{budget:.0f}",
                          "--out", str(out / "hf-search")], cwd=ROOT, capture_output=True, text=True)
    hfs_wall = time.perf_counter() - t0
    hfsearch = json.loads(hfs.stdout.strip().splitlines()[-1]) if hfs.returncode == 0 else \
        {"error": hfs.stderr.strip().splitlines()[-1:]}
    print(f"HF hyperparameter_search: {hfsearch}", flush=True)
    final = summary["final"]
    base = final.get("baseline", {})
    n_train = args.train or SETS["tweets"]["train"]
    lines = ["### tuneforge search vs the HF Trainer at the same wall-clock budget", "",
             f"MiniLM-L6 on the demo tweets, {n_train} training examples, {args.epochs} epochs per run, same split "
             f"and seed for all; budget = {args.budget:g} x one HF Trainer default run = {budget:.0f} s "
             "(no new trial after it; the best is then trained once more and tested).", "",
             "| | test macro-F1 [95% CI] | wall-clock s | trials |", "|---|---|---|---|",
             f"| HF Trainer, its defaults (one run) | {_fmt(hf['test'], hf.get('test_ci'))} | {hf_wall:.0f} | 1 |",
             f"| `tuneforge search` (default space), best: "
             f"{', '.join(f'{k}={v:.3g}' if isinstance(v, float) else f'{k}={v}' for k, v in summary['best']['params'].items())}"
             f" | {_fmt(final['test'], final['test_ci'])} | {tf_wall:.0f} | "
             f"{summary['counts']['complete']} complete, {summary['counts']['pruned']} pruned |"]
    if "error" not in hfsearch:
        lines.append(f"| HF `hyperparameter_search` (optuna), best: "
                     f"{', '.join(f'{k}={v:.3g}' if isinstance(v, float) else f'{k}={v}' for k, v in hfsearch['best'].items())}"
                     f" | {_fmt(hfsearch['test'], hfsearch['test_ci'])} | {hfs_wall:.0f} | - |")
    else:
        lines.append(f"| HF `hyperparameter_search` | failed: {hfsearch['error']} | | |")
    lines.append(f"| frozen baseline (logistic regression on frozen features) | {base.get('macro_f1', 0):.3f} | | |")
    cmd = "python bench/search.py " + " ".join(a for a in sys.argv[1:] if a != "--write")
    table = "\n".join(lines) + f"\n\nCommand: `{cmd.strip()}` ({time.strftime('%Y-%m-%d')}).\n"
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "search-tweets.json").write_text(json.dumps(
        {"hf_default": hf, "hf_default_wall": hf_wall, "budget": budget, "search": summary, "search_wall": tf_wall,
         "hf_search": hfsearch, "hf_search_wall": hfs_wall}, indent=1, default=str))
    print(table)
    if args.write:
        write_between_markers(ROOT / "BENCHMARKS.md", table, "search")


if __name__ == "__main__":
    main()

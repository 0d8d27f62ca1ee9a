"""The baselines of a run: the majority / mean predictor and the linear probe on frozen features.

Besides their metric dicts (``baseline.json``), the per-example outputs of both baselines on
the evaluation split and the probe's score on a sample of the training rows are kept in
``baseline_outputs.npz``, so that the end-of-run diagnostics can run a paired bootstrap
against the probe and compare training-set fit, also after a resume.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np

from ..evaluation import extract_features
from ..models.precision import autocast_dtype
from ..training.run_folder import write_json
from ..training.distributed import is_main_process

TRAIN_SAMPLE = 2000   # training rows scored for the under-fitting check


def eval_split_name(p) -> Optional[str]:
    """The split baselines and diagnostics are scored on: test, else validation."""
    return "test" if "test" in p.encoded else ("validation" if "validation" in p.encoded else None)


def train_sample(n: int, seed: int) -> np.ndarray:
    """Up to :data:`TRAIN_SAMPLE` training row indices (seeded, sorted)."""
    if n <= TRAIN_SAMPLE:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, TRAIN_SAMPLE, replace=False))


def run_baselines(p, precision: str, device) -> tuple[dict, dict, dict]:
    """``(majority metrics, probe metrics, arrays)``; arrays holds ``majority`` / ``probe`` outputs on
    the evaluation split and ``probe_train`` (outputs on :func:`train_sample` rows)."""
    eval_split = eval_split_name(p)
    if eval_split is None:
        return {}, {}, {}
    task, targets, names = p.task, getattr(p.data, eval_split).targets, p.data.label_names
    own = task.own_baselines(p, eval_split, precision, device)
    if own is not None:
        return own
    train_y = p.data.train.targets
    arrays = {"majority": task.majority_outputs(train_y, len(targets), names)}
    majority = task.compute_metrics(np.asarray(targets), arrays["majority"], names)
    if not p.recipe.evaluate.baseline:
        return majority, {}, arrays
    dtype, bs = autocast_dtype(precision), p.recipe.evaluate.batch_size
    train_x, _ = extract_features(p.model, p.encoded["train"], bs, device, dtype)
    eval_x, _ = extract_features(p.model, p.encoded[eval_split], bs, device, dtype)
    p.features.update({"train": train_x, eval_split: eval_x})  # shared with the head solver
    rows = train_sample(len(train_y), p.recipe.train.seed)
    outputs = task.probe_outputs(train_x, train_y, {"eval": (eval_x, targets), "train": (train_x[rows], train_y[rows])},
                                 names, p.recipe.train.seed)
    probe = task.compute_metrics(np.asarray(targets), outputs["eval"], names)
    arrays.update(probe=outputs["eval"], probe_train=outputs["train"])
    return majority, probe, arrays


def baselines_for_run(p, run_dir: Path, resuming: bool, precision: str, device) -> tuple[dict, dict]:
    """Run (or, on resume, reload) the baselines; writes ``baseline.json`` and ``baseline_outputs.npz``."""
    baseline_file = run_dir / "baseline.json"
    if resuming and baseline_file.is_file():
        base = json.loads(baseline_file.read_text())
        return base["majority"], base["linear_probe"]
    majority, probe, arrays = run_baselines(p, precision, device)
    write_json(baseline_file, {"majority": majority, "linear_probe": probe})
    if arrays:
        save_baseline_outputs(run_dir, arrays)
    return majority, probe


def save_baseline_outputs(run_dir: Path, arrays: dict) -> None:

    if is_main_process():
        np.savez_compressed(Path(run_dir) / "baseline_outputs.npz",
                            **{k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()})


def load_baseline_outputs(run_dir: Path) -> dict:
    """``{"majority", "probe", "probe_train"}`` arrays saved by :func:`baselines_for_run` ({} if none)."""
    path = Path(run_dir) / "baseline_outputs.npz"
    if not path.is_file():
        return {}
    with np.load(path) as f:
        return {k: f[k] for k in f.files}

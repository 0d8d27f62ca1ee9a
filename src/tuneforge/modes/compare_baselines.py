"""The baselines in a comparison: reference rows and a mark on every strategy that does not beat them.

The leaderboard gets the frozen baseline (linear probe on pre-trained features) and the majority /
mean predictor as ``reference_rows``, and each strategy row gets ``vs_baseline``: its monitored
metric against its own run's baseline on the same examples (paired bootstrap on a hold-out test,
paired t-test across folds with ``--folds``), and ``beats_baseline``: True only when it is
significantly better. Without a linear probe (``evaluate.baseline: false``) the majority predictor
is the baseline.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..evaluation.diagnostics import compare_folds_to_baseline, compare_to_baseline
from ..analysis.baselines import load_baseline_outputs
from ..analysis.extras import load_outputs

REFERENCES = (("probe", "baseline", "frozen baseline (linear probe)"),
              ("majority", "baseline_majority", "majority / mean predictor"))


def _baseline_key(metrics: dict) -> tuple[str, str]:
    """(outputs key, metrics key) of the baseline a strategy must beat."""
    fold0 = metrics["per_fold"][0] if "per_fold" in metrics else metrics
    return ("probe", "baseline") if fold0.get("baseline") else ("majority", "baseline_majority")


def _vs_folds(row: dict, metrics: dict, key: str, metric: str, greater: bool, confidence: float) -> Optional[dict]:
    base = [f.get(key, {}).get(metric) for f in metrics["per_fold"]]
    mine = row["test_folds"].get(metric) if row.get("test_folds") else None
    if mine is None or any(b is None for b in base):
        return None
    return compare_folds_to_baseline(mine, base, metric, greater, confidence)


def mark_rows(rows: list[dict], results: dict, task, metric: str, greater: bool, evaluate, seed: int) -> None:
    """Add ``vs_baseline`` and ``beats_baseline`` to every strategy row (in place)."""
    for row in rows:
        metrics = results[row["strategy"]]
        out_key, key = _baseline_key(metrics)
        vs = None
        if "per_fold" in metrics:
            vs = _vs_folds(row, metrics, key, metric, greater, evaluate.confidence)
        else:
            mine, base = load_outputs(Path(row["run_dir"])), load_baseline_outputs(Path(row["run_dir"]))
            if mine is not None and out_key in base and len(base[out_key]) == len(mine[1]):
                vs = compare_to_baseline(task.metric_kind, metric, greater, mine[1], mine[0], base[out_key],
                                         evaluate.bootstrap or 1000, evaluate.confidence, seed,
                                         paired=task.paired_bootstrap)
        if vs is not None:
            vs["against"] = dict((k, label) for k, _, label in REFERENCES)[out_key]
        row["vs_baseline"] = vs
        row["beats_baseline"] = None if vs is None else bool(vs["better"])


def reference_rows(results: dict, task, evaluate, seed: int) -> list[dict]:
    """The baselines as leaderboard rows (from the first strategy's run; all share data and seed)."""
    first = next(iter(results.values()))
    refs = []
    for out_key, key, label in REFERENCES:
        if "per_fold" in first:
            per_fold = [f.get(key) or {} for f in first["per_fold"]]
            names = [m for m, v in per_fold[0].items() if isinstance(v, (int, float))]
            if not names:
                continue
            vals = {m: [float(f.get(m, np.nan)) for f in per_fold] for m in names}
            refs.append({"strategy": label, "reference": out_key, "test": {m: float(np.mean(v)) for m, v in vals.items()},
                         "test_std": {m: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for m, v in vals.items()},
                         "test_ci": None})
            continue
        if not first.get(key):
            continue
        outputs, base = load_outputs(Path(first["run_dir"])), load_baseline_outputs(Path(first["run_dir"]))
        ci = None
        if outputs is not None and out_key in base and evaluate.bootstrap:
            ci = task.test_statistics(outputs[1], base[out_key], first.get("data", {}).get("label_names"),
                                      evaluate, seed).get("test_ci")
        refs.append({"strategy": label, "reference": out_key,
                     "test": {m: v for m, v in first[key].items() if isinstance(v, (int, float))},
                     "test_std": None, "test_ci": ci})
    return refs



from ..report.leaderboard import baseline_detail, baseline_mark, display_rows  # noqa: E402,F401  (re-exported)

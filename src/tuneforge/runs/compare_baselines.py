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

from ..evaluation.bootstrap import confidence_intervals
from ..evaluation.diagnostics import compare_folds_to_baseline, compare_to_baseline
from .baselines import load_baseline_outputs
from .extras import load_outputs

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


def mark_rows(rows: list[dict], results: dict, kind: str, metric: str, greater: bool, evaluate, seed: int) -> None:
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
                vs = compare_to_baseline(kind, metric, greater, mine[1], mine[0], base[out_key],
                                         evaluate.bootstrap or 1000, evaluate.confidence, seed)
        if vs is not None:
            vs["against"] = dict((k, label) for k, _, label in REFERENCES)[out_key]
        row["vs_baseline"] = vs
        row["beats_baseline"] = None if vs is None else bool(vs["better"])


def reference_rows(results: dict, kind: str, evaluate, seed: int) -> list[dict]:
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
            ci = confidence_intervals(kind, outputs[1], base[out_key], evaluate.bootstrap, evaluate.confidence, seed)
        refs.append({"strategy": label, "reference": out_key,
                     "test": {m: v for m, v in first[key].items() if isinstance(v, (int, float))},
                     "test_std": None, "test_ci": ci})
    return refs


def display_rows(board: dict) -> list[dict]:
    """Strategy rows and reference rows together, ranked by the board's metric (references in place)."""
    metric, sign = board["metric"], 1 if board.get("greater_is_better", True) else -1
    rows = list(board["rows"])
    for ref in board.get("reference_rows") or []:
        value = ref["test"].get(metric)
        at = len(rows)
        if value is not None and np.isfinite(value):
            for i, r in enumerate(rows):
                other = r["test"].get(metric)
                if r.get("reference") is None and (other is None or not np.isfinite(other) or sign * value > sign * other):
                    at = i
                    break
        rows.insert(at, ref)
    return rows


def baseline_mark(row: dict) -> str:
    """" ✗" after the name of a strategy that is not significantly better than its baseline, else ""."""
    return " ✗" if row.get("beats_baseline") is False else ""


def baseline_detail(row: dict) -> str:
    """'✓ +0.1000 (p=0.001)' / '✗ worse -0.6458 (p=0.000)': a row's difference to its baseline."""
    vs = row.get("vs_baseline")
    if vs is None:
        return "-"
    text = f"{vs['difference']:+.4f} (p={vs['p_value']:.3f})"
    if vs["better"]:
        return "✓ " + text
    return ("✗ worse " if vs["worse"] else "✗ ") + text

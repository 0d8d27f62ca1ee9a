"""The leaderboard of a comparison as table cells (shared by the terminal table and ``report.html``).

The board names its own metric columns (``board["columns"]["leaderboard"]``, from the task),
so nothing here knows which task was compared.
"""
from __future__ import annotations

import numpy as np


def leaderboard_metrics(board: dict) -> list[str]:
    """The metric columns of ``board`` (older boards without ``columns``: the metrics the rows have)."""
    columns = (board.get("columns") or {}).get("leaderboard")
    if columns:
        return list(columns)
    first = board["rows"][0]["test"] if board.get("rows") else {}
    return [m for m, v in first.items() if isinstance(v, (int, float))][:3]


def baseline_mark(row: dict) -> str:
    """" ✗" after the name of a strategy that is not significantly better than its baseline, else ""."""
    return " ✗" if row.get("beats_baseline") is False else ""


def step0_mark(row: dict) -> str:
    """" (step-0 model)" after the name of a strategy whose run hands back its step-0 model (the model before
    any training step); with folds, " (step-0 model in 2 of 5 folds)" when not all do; else ""."""
    s = row.get("step0_model")
    if not s:
        return ""
    return " (step-0 model)" if s["runs"] == s["of"] else f" (step-0 model in {s['runs']} of {s['of']} folds)"


def train_seconds_cell(row: dict) -> str:
    """Training seconds, followed by "discarded" when the run trained and then handed back its step-0 model."""
    return f"{row['train_seconds']:.1f}" + (" discarded" if (row.get("step0_model") or {}).get("training_discarded")
                                            else "")


def leaderboard_cells(board: dict, row: dict) -> list[str]:
    """The printable cells of one row."""
    cells = [row["strategy"] + baseline_mark(row) + step0_mark(row)]
    for m in leaderboard_metrics(board):
        value, ci, std = row["test"].get(m), (row["test_ci"] or {}).get(m), (row["test_std"] or {}).get(m)
        text = "-" if value is None else f"{value:.4f}"
        if ci:
            text += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
        elif std is not None:
            text += f" ± {std:.3f}"
        cells.append(text)
    if row.get("reference"):   # the baselines as rows: no training, no cost
        return cells + ["-"] * 5
    vs = row.get("vs_best")
    cells.append("best" if vs is None and row is board["rows"][0] else "-" if vs is None else
                 f"{vs['difference']:+.4f} (p={vs['p_value']:.3f}{', significant' if vs['significant'] else ''})")
    cells.append("-" if row["retention"] is None else f"{row['retention']:.3f}")
    cells += [train_seconds_cell(row), f"{row['peak_memory_mb']:.0f}",
              f"{row['trainable_parameters']:,} / {row['total_parameters']:,}"]
    return cells


def leaderboard_header(board: dict) -> list[str]:
    interval = f"{board['confidence']:.0%} CI" if not board["folds"] else f"mean ± std over {board['folds']} folds"
    return (["strategy"] + [f"{m} ({interval})" for m in leaderboard_metrics(board)]
            + [f"Δ {board['metric']} vs best", "retention", "train s", "peak MB", "trainable / total params"])


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


def baseline_detail(row: dict) -> str:
    """'✓ +0.1000 (p=0.001)' / '✗ worse -0.6458 (p=0.000)': a row's difference to its baseline."""
    vs = row.get("vs_baseline")
    if vs is None:
        return "-"
    text = f"{vs['difference']:+.4f} (p={vs['p_value']:.3f})"
    if vs["better"]:
        return "✓ " + text
    return ("✗ worse " if vs["worse"] else "✗ ") + text


def baseline_warnings(board: dict) -> list[str]:
    """Plain-text warnings about strategies that do not beat the baseline (terminal and report)."""
    marked = [r for r in board["rows"] if r.get("beats_baseline") is False]
    if not marked:
        return []
    against = next((r["vs_baseline"]["against"] for r in marked if r.get("vs_baseline")), "the baseline")
    if board.get("none_beats_baseline") and len(marked) == len(board["rows"]):
        return [f"✗ no strategy beats {against} on {board['metric']}: the 'best' row is no better than not "
                "fine-tuning at all. Try strategy.name=lp-ft, a lower optimizer.lr, or more training data; "
                "see each run's diagnostics."]
    return [f"✗ {len(marked)} of {len(board['rows'])} strategies do not beat {against} on {board['metric']}: "
            + ", ".join(r["strategy"] for r in marked)]


def step0_warnings(board: dict) -> list[str]:
    """Plain-text warnings about strategies that trained and then handed back their step-0 model (terminal
    and report): their training time was spent and its result discarded."""
    lines = []
    for r in board["rows"]:
        s = r.get("step0_model") or {}
        if s.get("training_discarded"):
            folds = f" in {s['runs']} of {s['of']} folds" if s["of"] > 1 else ""
            lines.append(f"{r['strategy']}: hands back its step-0 model{folds}, not a trained one: {s['why']}")
    return lines

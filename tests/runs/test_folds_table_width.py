"""The k-fold summary on the terminal: at 80 columns every fold's score and every "mean ± std" is
shown whole (the means first, then the folds' scores in as many tables as it takes); with room,
one table as before."""
import numpy as np
import pytest
from rich.console import Console

from tuneforge.evaluation.folds import summarise_folds
from tuneforge.modes.fold_diagnostics import print_folds_table

METRICS = ["accuracy", "macro_f1", "weighted_f1", "log_loss", "roc_auc", "ece"]


def cv_metrics(k: int) -> dict:
    rng = np.random.default_rng(k)

    def scores(lo, hi):
        return [{n: float(rng.uniform(lo, hi)) for n in METRICS} for _ in range(k)]
    return {"k": k, "model": "minilm-l6", "strategy": {"name": "full"}, "monitor": "macro_f1",
            "folds": summarise_folds(scores(0.5, 0.9)), "folds_baseline": summarise_folds(scores(0.4, 0.8)),
            "folds_majority": summarise_folds(scores(0.1, 0.3)), "diagnostics": []}


def printed(metrics: dict, width: int) -> str:
    console = Console(width=width, record=True, force_terminal=False)
    print_folds_table(console, metrics)
    return console.export_text()


def _mean_std(summary: dict, name: str) -> str:
    return f"{summary[name]['mean']:.4f} ± {summary[name]['std']:.4f}"


@pytest.mark.parametrize("k", [5, 10])
def test_80_columns_show_every_fold_and_every_mean_std_on_one_line(k):
    m = cv_metrics(k)
    text = printed(m, 80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in text and "not shown" not in text
    assert not any(line.rstrip(" │").endswith("±") for line in lines)      # no "±" left at a line's end
    for name in METRICS:
        (row,) = [line for line in lines if f" {name} " in line and "±" in line]
        for key in ("folds", "folds_baseline", "folds_majority"):
            assert _mean_std(m[key], name) in row                          # whole, on the metric's line
        fold_rows = [line for line in lines if f" {name} " in line and "±" not in line]
        shown = " ".join(fold_rows).split()
        assert [f"{v:.4f}" for v in m["folds"][name]["values"]] == [w for w in shown if w[0].isdigit()]
    for i in range(1, k + 1):
        assert f"fold {i} " in text
    if k == 10:   # ten folds do not fit beside the metric names at 80 columns: two tables, named
        assert "each fold's test score (folds 1-5 of 10)" in text and "(folds 6-10 of 10)" in text


def test_a_wide_terminal_keeps_one_table_one_line_per_metric():
    m = cv_metrics(5)
    text = printed(m, 200)
    assert "each fold's test score" not in text
    for name in METRICS:
        (row,) = [line for line in text.splitlines() if f" {name} " in line]
        assert _mean_std(m["folds"], name) in row and _mean_std(m["folds_baseline"], name) in row
        assert all(f"{v:.4f}" in row for v in m["folds"][name]["values"])

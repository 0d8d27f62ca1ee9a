"""``report.html`` of a comparison folder (``leaderboard.json`` plus the runs it lists).

The report receives the leaderboard (or reads it from the folder); it never calls back
into the code that ran the comparison.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

from ..errors import TuneforgeError
from . import figures
from .html import esc, grid, img, note, page, section, table, write_atomically
from .leaderboard import (baseline_detail, baseline_warnings, display_rows, leaderboard_cells, leaderboard_header,
                          leaderboard_metrics, step0_warnings)
from .warnings import CSS as _DIAG_CSS


def build_comparison_report(folder: Path, board: Optional[dict] = None) -> str:
    """The HTML text of a comparison's report; ``board`` defaults to the folder's ``leaderboard.json``."""
    folder = Path(folder)
    if board is None:
        path = folder / "leaderboard.json"
        if not path.is_file():
            raise TuneforgeError(f"{folder} has no leaderboard.json: is it a `tuneforge compare` folder?")
        board = json.loads(path.read_text(encoding="utf-8"))
    rows = board["rows"]
    metric = board["metric"]
    how = ("paired bootstrap on the same test examples" if not board["folds"]
           else "paired t-test across folds")
    links = []
    for r in rows:
        rel = os.path.relpath(r["run_dir"], folder)
        links.append(f'<li>{esc(r["strategy"])}: <a href="{esc(rel)}/report.html">{esc(rel)}</a></li>')
    values = {r["strategy"]: r["test"].get(metric) for r in rows}
    lim = (0, 1.05) if metric in ("accuracy", "macro_f1", "roc_auc", "pr_auc", "balanced_accuracy") else None
    cost = {r["strategy"]: r["train_seconds"] for r in rows}
    shown = display_rows(board)
    intervals = {r["strategy"]: (r.get("test_ci") or {}).get(metric) or _std_interval(r, metric) for r in rows}
    refs = {r["strategy"]: r["test"].get(metric) for r in board.get("reference_rows") or []}
    losing = frozenset(r["strategy"] for r in rows if r.get("beats_baseline") is False)
    chart = figures.leaderboard_bars(values, intervals, refs, f"test {metric}" + (" (grey: not better than the "
                                     "baseline)" if losing else ""), metric, lim, losing)
    warnings = "".join(f'<div class="diag">{esc(w)}</div>' for w in baseline_warnings(board))
    discarded = "".join(f'<div class="diag">{esc(w)}</div>' for w in step0_warnings(board))
    if warnings:
        warnings += table(["strategy", f"Δ {metric} vs its baseline", "test"],
                          [[r["strategy"], baseline_detail(r), (r.get("vs_baseline") or {}).get("method", "-")]
                           for r in rows])
    parts = [(section("Does anything beat the baseline?", warnings) if warnings else "")
             + (section("Training discarded", discarded) if discarded else ""),
             section("Leaderboard", table(leaderboard_header(board), [leaderboard_cells(board, r) for r in shown],
                                          highlight=shown.index(rows[0]) if rows else None),
                     note(f"Ranked by {metric} on the test split; 'significant' means p < "
                          f"{1 - board['confidence']:.2f} ({how}). Every strategy used the same splits and seed "
                          f"({board['seed']}). The baselines are rows too; ✗ marks every strategy that is not "
                          "significantly better than its baseline (see above); '(step-0 model)' marks a strategy "
                          "whose run hands back the model before any training step."
                          + (f" Retention: {board['retention_measure']}." if board.get("retention_measure") else ""))),
             section("At a glance", grid(img(chart, metric) if chart else "",
                                         img(figures.bars(cost, "training time", "seconds", None), "time")
                                         if cost else "")),
             _baselines(board), section("Runs", f"<ul>{''.join(links)}</ul>")]
    parts[0] = (_DIAG_CSS + parts[0]) if parts[0] else ""
    return page(f"Comparison: {board['model']} · {board['task']}", f"comparison folder {folder.name}", parts)


def _std_interval(row: dict, metric: str):
    std, value = (row.get("test_std") or {}).get(metric), row["test"].get(metric)
    return None if std is None or value is None else [value - std, value + std]


def _baselines(board: dict) -> str:
    names = (board.get("columns") or {}).get("headline") or leaderboard_metrics(board)
    rows = [[label, *[(board.get(key) or {}).get(m) for m in names[:4]]]
            for label, key in (("majority / mean predictor", "baseline_majority"),
                               ("pre-trained, linear probe", "baseline")) if board.get(key)]
    if not rows:
        return ""
    return section("Baselines (same test split)", table(["model", *names[:4]], rows))


def write_comparison_report(folder, board: Optional[dict] = None) -> Path:
    """Write ``folder/report.html`` (from ``board``, or the folder's ``leaderboard.json``); returns its path."""
    folder = Path(folder)
    path = folder / "report.html"
    write_atomically(path, build_comparison_report(folder, board))
    return path

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
from .leaderboard import leaderboard_cells, leaderboard_header, leaderboard_metrics


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
    parts = [section("Leaderboard", table(leaderboard_header(board), [leaderboard_cells(board, r) for r in rows],
                                          highlight=0),
                     note(f"Ranked by {metric} on the test split; 'significant' means p < "
                          f"{1 - board['confidence']:.2f} ({how}). Every strategy used the same splits and seed "
                          f"({board['seed']}).")),
             section("At a glance", grid(img(figures.bars(values, f"test {metric}", metric, lim), metric)
                                         if values else "",
                                         img(figures.bars(cost, "training time", "seconds", None), "time")
                                         if cost else "")),
             _baselines(board), section("Runs", f"<ul>{''.join(links)}</ul>")]
    return page(f"Comparison: {board['model']} · {board['task']}", f"comparison folder {folder.name}", parts)


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

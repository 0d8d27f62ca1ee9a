"""``report.html`` of a comparison folder (``leaderboard.json`` plus the runs it lists)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import TuneforgeError
from . import figures, sections
from .html import esc, grid, img, note, page, section, table
from .warnings import CSS as _DIAG_CSS


def build_comparison_report(folder: Path) -> str:
    from ..runs.compare import baseline_warnings, leaderboard_cells, leaderboard_header
    from ..runs.compare_baselines import baseline_detail, display_rows

    folder = Path(folder)
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
    if warnings:
        warnings += table(["strategy", f"Δ {metric} vs its baseline", "test"],
                          [[r["strategy"], baseline_detail(r), (r.get("vs_baseline") or {}).get("method", "-")]
                           for r in rows])
    parts = [section("Does anything beat the baseline?", warnings) if warnings else "",
             section("Leaderboard", table(leaderboard_header(board), [leaderboard_cells(board, r) for r in shown],
                                          highlight=shown.index(rows[0]) if rows else None),
                     note(f"Ranked by {metric} on the test split; 'significant' means p < "
                          f"{1 - board['confidence']:.2f} ({how}). Every strategy used the same splits and seed "
                          f"({board['seed']}). The baselines are rows too; ✗ marks every strategy that is not "
                          "significantly better than its baseline (see above).")),
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
    rows = [[label, *[(board.get(key) or {}).get(m) for m in sections.HEADLINE[board["kind"]][:4]]]
            for label, key in (("majority / mean predictor", "baseline_majority"),
                               ("pre-trained, linear probe", "baseline")) if board.get(key)]
    if not rows:
        return ""
    return section("Baselines (same test split)", table(["model", *sections.HEADLINE[board["kind"]][:4]], rows))


def write_comparison_report(folder) -> Path:
    from ..runs.folder import write_text

    folder = Path(folder)
    path = folder / "report.html"
    write_text(path, build_comparison_report(folder))
    return path

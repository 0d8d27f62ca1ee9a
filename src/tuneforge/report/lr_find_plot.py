"""The learning-rate range test drawn twice: a PNG for the run folder, characters for the terminal.

Both show the loss against the learning rate on a log axis, the raw losses faintly, the smoothed
curve the suggestion is read from, and the suggestion marked.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from .figures import new_figure


def save_lr_find_png(result, path: Path) -> Path:
    """Write ``lr_find.png``: raw and smoothed loss against lr (log x), the suggestion marked."""

    fig = new_figure(6.0, 3.8)
    ax = fig.add_subplot()
    ax.plot(result.lrs, result.losses, color="#9bb0d8", lw=0.8, label="loss per step")
    ax.plot(result.lrs, result.smoothed, color="#3060c0", lw=2.0, label="smoothed")
    ax.axvline(result.suggestion, color="#c05030", ls="--", lw=1.2)
    ax.plot([result.lrs[result.index]], [result.smoothed[result.index]], "o", color="#c05030",
            label=f"suggested lr {result.suggestion:.1e}")
    ax.set_xscale("log")
    ax.set_ylim(*_y_range(result))
    ax.set_xlabel(f"learning rate (stage '{result.stage}')")
    ax.set_ylabel("training loss")
    ax.set_title("learning-rate range test")
    ax.legend(loc="upper left", fontsize=8)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png")
    tmp.replace(path)
    return path


def _y_range(result) -> tuple[float, float]:
    """From a bit below the lowest smoothed loss to a bit above where it started: the diverging tail is cut."""
    smoothed = np.asarray(result.smoothed)
    low, high = float(smoothed.min()), float(max(smoothed[0], np.median(result.losses)))
    pad = 0.08 * (high - low) if high > low else 0.1 * abs(high) + 1e-3
    return low - pad, high + 3 * pad


def terminal_plot(result, width: int = 72, height: int = 12) -> str:
    """The smoothed curve as characters, at most ``width`` columns wide (labels included).

    ``*`` marks the smoothed loss (``'`` on the top row: above the plotted range, diverging),
    ``|`` the column of the suggested lr, ``^`` under it on the axis.
    """
    label_w = 9
    cols = max(16, width - label_w - 1)
    x = np.log10(np.asarray(result.lrs))
    y = np.asarray(result.smoothed)
    low, high = _y_range(result)
    x0, x1 = float(x[0]), float(x[-1]) if x[-1] > x[0] else float(x[0]) + 1.0
    grid = [[" "] * cols for _ in range(height)]
    col_of = lambda v: int(round((v - x0) / (x1 - x0) * (cols - 1)))  # noqa: E731
    mark = col_of(math.log10(result.suggestion)) if x0 <= math.log10(result.suggestion) <= x1 else None
    if mark is not None:
        for r in range(height):
            grid[r][mark] = "|"
    for xi, yi in zip(x, y):
        if np.isfinite(yi) and yi < low:
            continue
        if not np.isfinite(yi) or yi > high:      # the divergence, clipped at the top
            grid[0][col_of(xi)] = "'"
            continue
        row = height - 1 - int(round((yi - low) / (high - low) * (height - 1)))
        grid[row][col_of(xi)] = "*"
    lines = []
    for r, row in enumerate(grid):
        value = high - r * (high - low) / (height - 1)
        label = f"{value:>8.3g} " if r in (0, height // 2, height - 1) else " " * label_w
        lines.append(label + "|" + "".join(row).rstrip())
    axis = [" "] * cols
    if mark is not None:
        axis[mark] = "^"
    lines.append(" " * label_w + "+" + "".join(axis).rstrip())
    left, right, middle = f"{10 ** x0:.0e}", f"{10 ** x1:.0e}", "learning rate (log scale)"
    gap = max(2, cols - len(left) - len(right) - len(middle))
    lines.append(" " * (label_w + 1) + left + " " * (gap // 2) + middle + " " * (gap - gap // 2) + right)
    return "\n".join(lines)

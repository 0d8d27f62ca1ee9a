"""The leaderboard of a comparison as table cells (shared by the terminal table and ``report.html``).

The board names its own metric columns (``board["columns"]["leaderboard"]``, from the task),
so nothing here knows which task was compared.
"""
from __future__ import annotations


def leaderboard_metrics(board: dict) -> list[str]:
    """The metric columns of ``board`` (older boards without ``columns``: the metrics the rows have)."""
    columns = (board.get("columns") or {}).get("leaderboard")
    if columns:
        return list(columns)
    first = board["rows"][0]["test"] if board.get("rows") else {}
    return [m for m, v in first.items() if isinstance(v, (int, float))][:3]


def leaderboard_cells(board: dict, row: dict) -> list[str]:
    """The printable cells of one row."""
    cells = [row["strategy"]]
    for m in leaderboard_metrics(board):
        value, ci, std = row["test"].get(m), (row["test_ci"] or {}).get(m), (row["test_std"] or {}).get(m)
        text = "-" if value is None else f"{value:.4f}"
        if ci:
            text += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
        elif std is not None:
            text += f" ± {std:.3f}"
        cells.append(text)
    vs = row.get("vs_best")
    cells.append("best" if vs is None and row is board["rows"][0] else "-" if vs is None else
                 f"{vs['difference']:+.4f} (p={vs['p_value']:.3f}{', significant' if vs['significant'] else ''})")
    cells.append("-" if row["retention"] is None else f"{row['retention']:.3f}")
    cells += [f"{row['train_seconds']:.1f}", f"{row['peak_memory_mb']:.0f}",
              f"{row['trainable_parameters']:,} / {row['total_parameters']:,}"]
    return cells


def leaderboard_header(board: dict) -> list[str]:
    interval = f"{board['confidence']:.0%} CI" if not board["folds"] else f"mean ± std over {board['folds']} folds"
    return (["strategy"] + [f"{m} ({interval})" for m in leaderboard_metrics(board)]
            + [f"Δ {board['metric']} vs best", "retention", "train s", "peak MB", "trainable / total params"])

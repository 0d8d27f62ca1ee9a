"""The compare leaderboard at 80 columns: low-priority columns dropped (and named), cells wrapped
only at spaces, never a cut number; at 200 columns every column on one line."""
import re

import pytest
from rich.console import Console

from tuneforge.modes.compare import leaderboard_cells, leaderboard_header, print_leaderboard
from tuneforge.terminal import Column, fit_table, plan_columns

from helpers.boards import synthetic_board as board

NUMBER = re.compile(r"[+-]?\d[\d,]*\.\d+|\d{1,3}(?:,\d{3})+")


def printed(b: dict, width: int) -> str:
    console = Console(width=width, record=True, force_terminal=False)
    print_leaderboard(console, b)
    return console.export_text()


@pytest.mark.parametrize("folds", [None, 5])
def test_80_columns_keep_every_number_whole(folds):
    b = board(folds)
    text = printed(b, 80)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    numbers = set(NUMBER.findall(text))
    for row in b["rows"]:
        assert row["strategy"] in text                                   # names whole, on one line
        assert f"{row['test']['macro_f1']:.4f}" in numbers               # the ranking metric is kept
    assert "-0.0889" in numbers and "0.012," in text                     # Δ vs best and its p-value
    for n in numbers:                                                    # every number printed is one
        assert any(n in " ".join(leaderboard_cells(b, r)) for r in b["rows"]), n  # that a cell holds
    assert "not shown at this width: " in text and "peak MB" in text.split("not shown at this width:")[1]


def test_200_columns_show_every_column_one_line_per_row():
    b = board()
    text = printed(b, 200)
    assert "not shown" not in text and "…" not in text
    for row in b["rows"]:
        (line,) = [line for line in text.splitlines() if row["strategy"] in line]
        for cell in leaderboard_cells(b, row):
            assert cell in line
    assert all(h in text for h in leaderboard_header(b))


def test_columns_are_dropped_by_priority_then_widened_by_priority():
    cols = [Column("name", 0, "left"), Column("score", 0), Column("extra detail", 2), Column("cost", 1)]
    rows = [["a-long-name", "0.91 [0.88, 0.93]", "lots of words here", "12.5"]]
    kept, widths = plan_columns(cols, rows, 200)
    assert kept == [0, 1, 2, 3] and widths == [11, 17, 18, 4]
    kept, widths = plan_columns(cols, rows, 36)            # "extra detail" (priority 2) goes first
    assert kept == [0, 1, 3]
    assert widths[0] == 11 and 6 <= widths[1] <= 17        # the score may wrap at a space
    kept, _ = plan_columns(cols, rows, 20)                  # priority 0 stays even when it cannot fit
    assert kept == [0, 1]


def test_fit_table_never_cuts_a_cell():
    cols = [Column("strategy", 0, "left"), Column("accuracy (95% CI)", 0)]
    console = Console(width=34, record=True)         # exactly the longest words plus borders
    console.print(fit_table(cols, [["freeze:top_blocks=2", "0.8123 [0.7623, 0.8523]"]], 30))
    text = console.export_text()
    assert "freeze:top_blocks=2" in text and "0.8123" in text and "[0.7623," in text and "0.8523]" in text

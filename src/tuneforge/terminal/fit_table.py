"""A rich table that fits the terminal by dropping and wrapping columns by priority, never by
cutting a cell.

rich shrinks a table that is too wide by cutting cells ("freez…", "[0.72…"), which makes a
leaderboard unreadable at 80 columns. Here each column has a priority; the least important
columns are left out until every remaining column can show its longest unbreakable piece (a
number, a name) whole, and the width left over goes to the most important columns first.
Cells may wrap only at spaces, so "0.8123 [0.712, 0.900]" can become two lines but no number is
split; a column marked ``whole`` never wraps its cells ("0.7056 ± 0.0936" stays on one line), only
its header. Columns left out are named in the caption.

Example::

    cols = [Column("strategy", 0, justify="left"), Column("accuracy", 0), Column("peak MB", 3)]
    console.print(fit_table(cols, [["full", "0.9120", "1210"]], console.width, title="leaderboard"))
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from rich.markup import escape
from rich.table import Table

_EDGE = 1       # the table's left border
_PER_COLUMN = 3  # one space of padding each side plus the border after the column


@dataclass(frozen=True)
class Column:
    """A column: ``priority`` 0 is always shown; larger numbers are dropped first when narrow."""

    header: str
    priority: int = 0
    justify: str = "right"
    whole: bool = False   # the cells stay on one line (the header may still wrap)


def _longest_word(text: str) -> int:
    return max((len(w) for w in text.split()), default=0)


def _longest_line(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def table_width(widths: Sequence[int]) -> int:
    """Characters a rich table with these column widths takes (default box, padding 1)."""
    return _EDGE + sum(w + _PER_COLUMN for w in widths)


def plan_columns(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> tuple[list[int], list[int]]:
    """(indices of the columns kept, their widths) for a table at most ``width`` characters wide.

    A column needs at least its longest word (of header and cells; a ``whole`` column its longest
    cell line); columns are dropped from the highest priority number (the last one first among
    equals) until the rest fit. The leftover width widens kept columns towards their longest line,
    most important first.
    """
    cell = [_longest_line if c.whole else _longest_word for c in columns]
    need = [max([_longest_word(c.header)] + [cell[i](r[i]) for r in rows]) for i, c in enumerate(columns)]
    want = [max([_longest_line(c.header)] + [_longest_line(r[i]) for r in rows]) for i, c in enumerate(columns)]
    kept = list(range(len(columns)))
    drop_order = sorted(kept, key=lambda i: (columns[i].priority, i), reverse=True)
    for i in drop_order:
        if table_width([need[k] for k in kept]) <= width or columns[i].priority == 0:
            break
        kept.remove(i)
    widths = {k: need[k] for k in kept}
    spare = width - table_width(list(widths.values()))
    for k in sorted(kept, key=lambda k: (columns[k].priority, k)):
        grow = max(0, min(spare, want[k] - widths[k]))
        widths[k] += grow
        spare -= grow
    return kept, [widths[k] for k in kept]


def fit_table(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int,
              title: Optional[str] = None) -> Table:
    """A rich Table of plain-text ``rows`` (escaped here) no wider than ``width``; see the module doc."""
    kept, widths = plan_columns(columns, rows, width)
    dropped = [columns[i].header for i in range(len(columns)) if i not in kept]
    caption = f"not shown at this width: {', '.join(dropped)}" if dropped else None
    table = Table(title=title, caption=caption, caption_justify="left")
    for i, w in zip(kept, widths):
        table.add_column(escape(columns[i].header), justify=columns[i].justify, width=w, overflow="fold")
    for row in rows:
        table.add_row(*[escape(row[i]) for i in kept])
    return table

"""How a table's rows are named in messages: each row's line in its file, when that is known.

Every reader (:mod:`.tables`, :mod:`.conll`, the packaged data sets) leaves ``df.attrs[LINES_ATTR]``
on the table it returns: the 1-based file line of each row when known exactly, else ``None``. The
cleaning and loading steps carry it along as they drop rows, so a late error can still say
"row 17 (line 18 of train.csv)".

Example::

    row_label(16, "train.csv", df.attrs[LINES_ATTR])   # "row 17 (line 18 of train.csv)"
"""
from __future__ import annotations

from typing import Optional, Sequence

LINES_ATTR = "tuneforge.lines"


def row_label(index: int, source: str, lines: Optional[Sequence[int]] = None) -> str:
    """How to name data row ``index`` (0-based) of ``source`` in a message."""
    if lines is not None and 0 <= index < len(lines):
        return f"row {index + 1} (line {lines[index]} of {source})"
    return f"row {index + 1} of {source}"

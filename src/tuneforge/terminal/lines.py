"""Lines that stay copyable and readable in a narrow terminal.

* :func:`print_path`: a labelled path printed without rich's hard line breaks, so a long
  run-folder path stays one piece the terminal wraps (and a triple-click copies whole).
* :func:`print_segments`: a status line made of pieces ("step 10/30", "accuracy 0.8125"...) that
  wraps only between pieces, never inside one, continuing on indented lines.

Example::

    print_path(console, "run folder", "/very/long/runs/demo-20250101-120000")
    print_segments(console, ["epoch 1/3", "step 10/30", "train loss 0.6931", "accuracy 0.5000"])
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence, Union

from rich.console import Console
from rich.markup import escape


def print_path(console: Console, label: str, path: Union[str, Path]) -> None:
    console.print(f"{escape(label)}: [bold]{escape(str(path))}[/bold]", soft_wrap=True, highlight=False)


def pack_segments(segments: Sequence[str], width: int, separator: str = "  ", indent: str = "    ") -> list[str]:
    """Greedily pack ``segments`` into lines of at most ``width`` characters (a segment longer
    than a line gets a line of its own); continuation lines start with ``indent``."""
    lines: list[str] = []
    for seg in segments:
        if lines and len(lines[-1]) + len(separator) + len(seg) <= width:
            lines[-1] += separator + seg
        else:
            lines.append((indent if lines else "") + seg)
    return lines


def print_segments(console: Console, segments: Sequence[str], separator: str = "  ") -> None:
    for line in pack_segments(segments, console.width, separator):
        console.print(escape(line), soft_wrap=True, highlight=False)

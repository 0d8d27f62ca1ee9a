"""The page: one self-contained HTML file (inline CSS, images as data URIs, no scripts).

Table cells wrap only at spaces (a number or a name is never split), so a wide table such as the
comparison leaderboard fits the page instead of hiding its last columns behind a scrollbar.

Helpers build escaped fragments: :func:`table`, :func:`section`, :func:`img`,
:func:`page`. Nothing here fetches anything: a report opens offline, from e-mail or a
laptop's disk, and prints.
"""
from __future__ import annotations

import html
import math
from typing import Iterable, Optional, Sequence

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:1.6em;margin:0 0 4px} h2{font-size:1.2em;margin:0 0 12px;border-bottom:1px solid #e3e6ea;padding-bottom:6px}
section{background:#fff;border:1px solid #e3e6ea;border-radius:8px;padding:16px 20px;margin:16px 0}
.meta{color:#5b6475;font-size:.92em} .note{color:#5b6475;font-size:.88em;margin:6px 0}
table{border-collapse:collapse;font-size:.9em;margin:6px 0 10px;width:auto}
th,td{padding:4px 10px;border-bottom:1px solid #eceff3;text-align:right;white-space:normal;overflow-wrap:normal;word-break:normal;hyphens:none}
th:first-child,td:first-child{text-align:left} th{background:#f1f3f6;font-weight:600}
tr.best td{font-weight:600;background:#eef7ee}
.grid{display:flex;flex-wrap:wrap;gap:12px} .grid figure{margin:0;flex:1 1 420px;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid #eceff3;border-radius:4px}
figcaption{font-size:.85em;color:#5b6475}
.tok{padding:1px 2px;border-radius:3px;margin:0 1px;display:inline-block}
.example{margin:8px 0;line-height:1.9} .scroll{overflow-x:auto}
"""


def esc(x) -> str:
    return html.escape(str(x), quote=True)


def fmt(value, digits: int = 4) -> str:
    """Numbers compactly (ints with thousands separators, NaN as '-'), anything else escaped."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else esc(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "-"
        return f"{value:.{digits}g}" if abs(value) >= 1e4 or (value and abs(value) < 1e-3) else f"{value:.{digits}f}"
    return esc(value)


def with_ci(value, ci: Optional[Sequence[float]]) -> str:
    """'0.9120 [0.8810, 0.9400]' (the interval in a smaller font)."""
    if ci is None or len(ci) != 2:
        return fmt(value)
    return f"{fmt(value)} <small>[{fmt(ci[0])}, {fmt(ci[1])}]</small>"


def table(header: Sequence[str], rows: Iterable[Sequence], highlight: Optional[int] = None,
          raw: bool = False) -> str:
    """An HTML table; cells are formatted with :func:`fmt` unless ``raw`` (already HTML)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = ' class="best"' if highlight is not None and i == highlight else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{c if raw else fmt(c)}</td>" for c in row) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def img(data_uri: str, caption: str) -> str:
    return f'<figure><img src="{data_uri}" alt="{esc(caption)}"><figcaption>{esc(caption)}</figcaption></figure>'


def grid(*figures: str) -> str:
    return '<div class="grid">' + "".join(f for f in figures if f) + "</div>"


def section(title: str, *parts: str, anchor: Optional[str] = None) -> str:
    body = "".join(p for p in parts if p)
    if not body:
        return ""
    aid = f' id="{esc(anchor)}"' if anchor else ""
    return f"<section{aid}><h2>{esc(title)}</h2>{body}</section>"


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def page(title: str, subtitle: str, sections: Sequence[str]) -> str:
    """The whole document."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>"
            f"<h1>{esc(title)}</h1><p class=\"meta\">{esc(subtitle)}</p>"
            + "".join(s for s in sections if s) + "</main></body></html>\n")


def write_atomically(path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, so a reader never sees half a page."""
    import os
    from pathlib import Path

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)

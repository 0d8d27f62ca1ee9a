"""Report sections of token classification: scores per entity type, confusion between types, and a few
test sentences with their gold and predicted entities highlighted.

They read ``metrics.json`` (``test.per_type``, ``test.type_confusion``) and ``entity_examples.json``
(written at the end of a token-classification run); other runs have neither and get no section.
"""
from __future__ import annotations

import zlib
from typing import Optional

from ..tasks.token_classification import EXAMPLES_FILE  # noqa: F401  (the file the examples section reads; run_report uses entities.EXAMPLES_FILE)
from .html import esc, note, section, table


def per_type(metrics: dict) -> str:
    """Precision / recall / F1 / support per entity type, and the type-by-type confusion (a table)."""
    test = metrics.get("test") or {}
    types = test.get("per_type")
    if not types:
        return ""
    rows = [[t, c["precision"], c["recall"], c["f1"], c["support"]] for t, c in types.items()]
    parts = [table(["entity type", "precision", "recall", "f1", "gold entities"], rows),
             note("Entity-level scores (seqeval, default mode): an entity counts when its type and its words "
                  "match exactly.")]
    confusion = test.get("type_confusion")
    if confusion:
        labels = confusion["labels"]
        body = [[esc(f"gold {g}")] + [_cell(v, gi == pi and g != "O") for pi, v in enumerate(row)]
                for gi, (g, row) in enumerate(zip(labels, confusion["matrix"]))]
        parts += ["<h3>Confusion between types</h3>",
                  table([""] + [f"pred {p}" for p in labels], body, raw=True),
                  note("Each gold entity is matched to the predicted entity that overlaps it most (column O: none, "
                       "a missed entity); row O counts predicted entities that overlap no gold one.")]
    return section("Test split per entity type", *parts, anchor="entities")


def _cell(value: int, diagonal: bool) -> str:
    style = ' style="font-weight:bold"' if diagonal else ""
    return f"<span{style}>{int(value):,}</span>"


def _colour(kind: str) -> str:
    hue = zlib.crc32(kind.encode("utf-8")) % 360
    return f"hsla({hue},70%,70%,0.55)"


def highlighted(words: list[str], spans: list[dict]) -> str:
    """The sentence with each entity (``type``, ``first``, ``last`` word) marked and labelled."""
    starts = {s["first"]: s for s in spans}
    out, i = [], 0
    while i < len(words):
        span = starts.get(i)
        if span is None:
            out.append(esc(words[i]))
            i += 1
            continue
        text = " ".join(esc(w) for w in words[span["first"]:span["last"] + 1])
        out.append(f'<span class="tok" style="background:{_colour(span["type"])}">{text} '
                   f'<small><b>{esc(span["type"])}</b></small></span>')
        i = span["last"] + 1
    return " ".join(out)


def examples(entries: Optional[list]) -> str:
    """A few test sentences: gold entities above, predicted below."""
    if not entries:
        return ""
    parts = []
    for e in entries:
        mark = "all right" if e["gold"] == e["predicted"] else "differs"
        parts.append(f'<div class="example">#{e["index"]} ({mark})<br>gold: {highlighted(e["words"], e["gold"])}'
                     f'<br>predicted: {highlighted(e["words"], e["predicted"])}</div>')
    return section("Test sentences", note("Entities as the gold tags and the model's tags read them; sentences "
                                          "where the two differ come first."), *parts, anchor="sentences")

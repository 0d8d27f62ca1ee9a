"""Report sections of a causal-LM run: generated samples before/after side by side, and reference perplexity.

Built from ``metrics.json`` alone (``generation`` and ``retention`` written by the causal-lm task).
"""
from __future__ import annotations

from typing import Optional

from .html import esc, fmt, note, section, table

SHOWN = 12   # samples shown in the report (metrics.json keeps all of them)


def generation(g: Optional[dict]) -> str:
    """Held-out prompts with the reference answer and the generations before and after fine-tuning."""
    if not g or not g.get("samples"):
        return ""
    em = g.get("exact_match") or {}
    parts = []
    if em.get("after") is not None:
        parts.append(table(["exact match (greedy, spaces and case ignored)", "before", "after"],
                           [[f"{len(g['samples'])} held-out prompts", fmt(em.get("before")), fmt(em.get("after"))]]))
    rows = [[esc(s.get("prompt", "")), esc(s.get("reference") or "-"), esc(s.get("before") or "-"),
             f"<b>{esc(s.get('after') or '')}</b>"] for s in g["samples"][:SHOWN]]
    parts.append(table(["prompt", "reference", "before fine-tuning", "after fine-tuning"], rows, raw=True))
    settings = g.get("settings") or {}
    how = ", ".join(f"{k} {v}" for k, v in settings.items() if k != "samples")
    parts.append(note(f"Generation settings (recipe `generate`): {how}. "
                      f"Showing {min(SHOWN, len(g['samples']))} of {len(g['samples'])} samples."))
    return section("What does it write?", *parts, anchor="generation")


def reference_retention(r: dict) -> str:
    """Perplexity on a general reference text before and after (how much general language was forgotten)."""
    rows = [["perplexity before", fmt(r.get("before"))], ["perplexity after", fmt(r.get("after"))],
            ["change (positive: forgot some general language)", fmt(r.get("change"))]]
    return section("Retention: what was forgotten?", table(["measure", "value"], rows),
                   note(f"{r.get('measure', '')}; text: {r.get('source', '?')}"), anchor="retention")

"""The run report's "Strategy race" section: what ``strategy: auto`` raced, rung by rung, and why
the winner won (from ``metrics.json`` ``race``, see :mod:`tuneforge.modes.race_report`)."""
from __future__ import annotations

from .html import esc, fmt, note, section, table


def race(metrics: dict) -> str:
    """One table per rung (strategy, validation score, seconds, kept) and the why sentence; "" without a race."""
    record = metrics.get("race")
    if not record:
        return ""
    metric, parts = record.get("metric", "?"), []
    rungs = record.get("rungs", [])
    for r, rung in enumerate(rungs):
        rows, best = [], None
        for i, x in enumerate(rung.get("results", [])):
            value = "failed" if x.get("value") is None else fmt(x["value"])
            kept = "kept" if x.get("kept") else "out"
            if x.get("reused"):
                kept += " (no SGD step: score reused)"
            if x.get("kept") and r == len(rungs) - 1:
                best = i
            rows.append([esc(x.get("strategy")), value, fmt(x.get("seconds"), 2), esc(kept)])
        parts.append(f"<h3>Rung {r + 1}: {esc(rung.get('budget_steps'))} of {esc(record.get('total_steps', '?'))} "
                     f"steps</h3>")
        parts.append(table(["strategy", f"validation {metric}", "seconds", ""], rows, highlight=best, raw=True))
    return section("Strategy race", f"<p><b>{esc(record.get('winner'))}</b> won: {esc(record.get('why', ''))}.</p>",
                   *parts,
                   note("strategy: auto ran each candidate on train + validation only (the test split was never "
                        "used) with a step budget that grows each rung; the winner then ran the full budget. "
                        "Each round's folder is under race/."), anchor="race")

"""The human-readable summary printed at the end of a run."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ..terminal import print_path, print_segments


def _cell(m: dict, name: str, ci: dict) -> str:
    if name not in m:
        return "-"
    low_high = ci.get(name)
    return f"{m[name]:.4f}" + (f"\n[{low_high[0]:.3f}, {low_high[1]:.3f}]" if low_high else "")


def print_summary(console: Console, metrics: dict) -> None:
    names = metrics["columns"]["summary"]   # the task's columns (Task.summary_columns)
    table = Table(title=f"{metrics['model']} · {metrics['task']} · strategy {metrics['strategy']['name']}")
    table.add_column("model")
    for n in names:
        table.add_column(n, justify="right")
    rows = []
    if metrics.get("baseline_majority"):
        rows.append(("majority / mean predictor", metrics["baseline_majority"]))
    if metrics.get("baseline"):
        rows.append(("pre-trained baseline (linear probe)", metrics["baseline"]))
    split = "test" if metrics.get("test") else "validation"
    rows.append((f"fine-tuned ({metrics['strategy']['name']})", metrics.get(split) or {}))
    ci = metrics.get("test_ci") or {} if split == "test" else {}
    for i, (label, m) in enumerate(rows):
        last = i == len(rows) - 1
        table.add_row(label, *[_cell(m, n, ci if last else {}) for n in names])
    console.print(table)
    t = metrics["train"]
    if ci:
        console.print(f"[dim]brackets: {100 * metrics.get('confidence', 0.95):.0f}% bootstrap confidence intervals[/dim]")
    print_segments(console, [f"metrics on the {split} split ({metrics['data']['sizes'].get(split, '?')} examples);",
                             f"training {t['seconds']:.1f}s,", f"{t['samples_per_second']:.1f} samples/s,",
                             f"{t['trainable_parameters']:,} of {t['total_parameters']:,} parameters trained,",
                             f"peak memory {t['peak_memory_mb']:.0f} MB"
                             + (f", {100 * t['padding_fraction']:.1f}% padding" if t.get("padding_fraction") is not None
                                else "") + ";", f"total {metrics['seconds_total']:.1f}s"], separator=" ")
    print_path(console, "run folder", metrics["run_dir"])

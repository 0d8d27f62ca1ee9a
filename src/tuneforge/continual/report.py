"""The sequence's results for people: a terminal table and ``report.html`` (matrix heatmap, curves).

``tuneforge report FOLDER`` rebuilds the page from ``metrics.json`` alone, like a single run's.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..report.figures import new_figure, to_data_uri
from ..report.run_report import report_page
from ..report.html import esc, fmt, grid, img, note, page, section, table, write_atomically
from ..terminal import print_path

DEFINITIONS = ("R[i][j]: accuracy on task j's test split after training task i (row 0: before training, the "
               "pre-trained model with untrained heads). Average accuracy: mean of the last row. BWT (backward "
               "transfer, GEM): mean of R[T][j] - R[j][j] over j < T. FWT (forward transfer, GEM): mean of "
               "R[j-1][j] - R[0][j] over j > 1. Forgetting (Chaudhry et al. 2018): mean over j < T of the best "
               "earlier accuracy on j minus the final one. See docs/continual.md.")


def _fmt(x) -> str:
    return "-" if x is None else f"{x:+.4f}"


def print_sequence(console: Console, metrics: dict) -> None:
    c = metrics["continual"]
    names = c["tasks"]
    t = Table(title=f"{metrics['model']} · continual ({c['head']} head) · accuracy after each step")
    t.add_column("after")
    for n in names:
        t.add_column(escape(n), justify="right")
    for i, row in enumerate(c["matrix"]):
        t.add_row("start" if i == 0 else escape(names[i - 1]), *[f"{v:.3f}" for v in row])
    console.print(t)
    console.print(f"average accuracy {c['average_accuracy']:.4f} · forgetting {_fmt(c['forgetting'])} · "
                  f"BWT {_fmt(c['bwt'])} · FWT {_fmt(c['fwt'])}")


def matrix_figure(c: dict) -> str:
    R, names = np.asarray(c["matrix"]), c["tasks"]
    fig = new_figure(2.6 + 0.7 * len(names), 2.2 + 0.5 * len(names))
    ax = fig.add_subplot()
    im = ax.imshow(R, cmap="viridis", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, shrink=0.8, label="test accuracy")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=7)
    ax.set_yticks(range(len(R)), ["start"] + [f"after {n}" for n in names], fontsize=7)
    for i in range(R.shape[0]):
        for j in range(R.shape[1]):
            ax.text(j, i, f"{R[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="black" if R[i, j] > 0.6 else "white")
    ax.set_xlabel("scored on task")
    ax.set_title("accuracy matrix")
    return to_data_uri(fig)


def curves_figure(c: dict) -> str:
    R, names = np.asarray(c["matrix"]), c["tasks"]
    fig = new_figure()
    ax = fig.add_subplot()
    steps = np.arange(len(R))
    for j, n in enumerate(names):
        ax.plot(steps[j + 1:], R[j + 1:, j], marker="o", label=n)   # from the step that trained it
    ax.plot(steps[1:], c["average_accuracy_curve"], color="black", linestyle="--", label="mean of tasks seen")
    ax.set_xticks(steps, ["start"] + names, rotation=30, ha="right", fontsize=7)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("test accuracy")
    ax.set_title("accuracy of each task over the sequence")
    ax.legend(fontsize=6)
    return to_data_uri(fig)


@report_page(lambda metrics: "continual" in metrics)
def build_sequence_report(folder: Path, metrics: dict) -> str:
    c = metrics["continual"]
    names = c["tasks"]
    summary = table(["average accuracy", "forgetting", "BWT", "FWT", "head", "replay"],
                    [[c["average_accuracy"], c["forgetting"], c["bwt"], c["fwt"], c["head"],
                      c["replay"]["size"] if c["replay"] else "none"]])
    matrix = table(["after"] + names, [["start" if i == 0 else names[i - 1], *row]
                                       for i, row in enumerate(c["matrix"])])
    steps = "".join(f'<li><a href="{esc(Path(s["run_dir"]).relative_to(folder))}/report.html">{esc(s["task"])}</a> '
                    f'({esc(", ".join(s["classes"]))}; {fmt(s["train_examples"])} training examples, '
                    f'{s["train_seconds"]:.1f}s)</li>' for s in c["steps"]
                    if Path(s["run_dir"]).is_relative_to(folder))
    regs = ", ".join(r["name"] for r in metrics.get("regularisers", [])) or "none"
    parts = [section("Sequence", summary, note(f"strategy {metrics['strategy']['name']}, regularisers: {regs}"),
                     note(DEFINITIONS)),
             section("Accuracy matrix", grid(img(matrix_figure(c), "accuracy matrix"),
                                             img(curves_figure(c), "accuracy per task")), matrix),
             section("Steps", f"<ul>{steps}</ul>" if steps else "")]
    return page(f"{metrics['model']} · {metrics['task']} · continual ({c['head']} head)",
                f"run folder {folder.name}", parts)


def write_sequence_report(folder: Path, console: Console) -> None:
    """``report.html`` of the sequence; a failure is a warning (the results are saved already)."""
    import json
    try:
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        path = folder / "report.html"
        write_atomically(path, build_sequence_report(folder, metrics))
        print_path(console, "report", path)
    except Exception as e:
        console.print(f"[yellow]warning[/yellow] report.html could not be written ({e!r}); "
                      f"try `tuneforge report {folder}`")

"""``report.html`` of one run folder, rebuilt from the folder's files alone.

Reads ``metrics.json`` (required), ``history.jsonl``, ``plan.json`` and
``explanations.json`` and ``top_losses.json`` when present. A cross-validation folder (its ``metrics.json``
has ``folds``) gets the fold table and links to each fold's own report.

Example::

    path = write_run_report("runs/demo-20250101-120000")   # -> .../report.html
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional

from ..errors import TuneforgeError
from . import entities, explain, sections
from .augment_grid import augmentation_section
from .federated_section import federated
from .privacy_section import privacy
from .race_section import race
from .generation import generation
from .onnx_section import int8_section
from .html import esc, note, page, section, write_atomically
from .warnings import diagnostics_section, final_model_section, folds_beside_baseline, verdict_html
from ..terminal import print_path


def _read_json(path: Path, default=None):
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else default


def _history(run_dir: Path) -> list[dict]:
    path = run_dir / "history.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _augment_names(run_dir: Path) -> list[str]:
    """The augmentations named in the run's ``recipe.yaml`` (empty when there is none)."""
    import yaml
    path = run_dir / "recipe.yaml"
    try:
        augment = ((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("data") or {}).get("augment") or []
    except (OSError, yaml.YAMLError, AttributeError):
        return []
    return [e["name"] if isinstance(e, dict) else str(e) for e in augment]


PAGES: list = []   # (applies(metrics) -> bool, build(folder, metrics) -> html), registered by the modes


def report_page(applies: Callable[[dict], bool]):
    """Register ``build(folder, metrics)`` as the page of every folder whose ``metrics.json`` ``applies`` to.

    A mode whose folder is not one run (a continual sequence) registers its page here, so that the
    report (one layer below the modes) builds it without importing the mode.
    """
    def register(build):
        PAGES.append((applies, build))
        return build
    return register


def build_run_report(run_dir: Path) -> str:
    """The HTML text of a run's report."""
    run_dir = Path(run_dir)
    metrics = _read_json(run_dir / "metrics.json")
    if metrics is None:
        raise TuneforgeError(f"{run_dir} has no metrics.json: is it a finished tuneforge run folder?")
    for applies, build in PAGES:  # a mode's folder with a page of its own (a continual sequence)
        if applies(metrics):
            return build(run_dir, metrics)
    strategy = metrics.get("strategy", {}).get("name", "?")
    title = f"{metrics.get('model', '?')} · {metrics.get('task', '?')} · {strategy}"
    subtitle = f"run folder {run_dir.name}"
    if "folds" in metrics:
        links = "".join(f'<li><a href="{esc(f)}/report.html">{esc(f)}</a></li>' for f in metrics.get("fold_dirs", []))
        parts = [diagnostics_section(metrics), folds_beside_baseline(metrics),
                 sections.folds(metrics["folds"], metrics.get("per_fold", [])),
                 sections.folds(metrics.get("folds_baseline", {}), metrics.get("per_fold", []))
                 .replace("cross-validation", "cross-validation, linear-probe baseline"),
                 section("Folds", f"<ul>{links}</ul>") if links else ""]
        return page(f"Cross-validation: {title}", subtitle, parts)
    parts = [diagnostics_section(metrics), final_model_section(metrics),
             sections.comparison(metrics, verdict_html(metrics)), privacy(metrics),
             race(metrics),
             sections.cost(metrics),
             federated(metrics["federated"], metrics.get("monitor")) if "federated" in metrics else
             sections.training(_history(run_dir), metrics.get("monitor")),
             sections.test_details(metrics), sections.per_label(metrics), entities.per_type(metrics),
             entities.examples(_read_json(run_dir / entities.EXAMPLES_FILE, [])), generation(metrics.get("generation")),
             sections.retention(metrics.get("retention")),
             sections.plan(_read_json(run_dir / "plan.json", [])),
             explain.top_losses(_read_json(run_dir / "top_losses.json")),
             explain.explanations(_read_json(run_dir / "explanations.json", [])),
             sections.data(metrics), augmentation_section(run_dir, _augment_names(run_dir)), int8_section(run_dir),
             section("Files", note("TensorBoard: tensorboard --logdir " + str(run_dir.parent)),
                     note("metrics.json, history.jsonl, plan.json, test_outputs.npz and the model/ folder sit "
                          "beside this report; `tuneforge report RUN` rebuilds it."))]
    return page(title, subtitle, parts)


def write_run_report(run_dir) -> Path:
    """Write ``run_dir/report.html``; returns its path."""
    run_dir = Path(run_dir)
    path = run_dir / "report.html"
    write_atomically(path, build_run_report(run_dir))
    return path


def write_report_quietly(run_dir, console, announce: bool = True) -> Optional[Path]:
    """Write the report and return its path; a failure is printed as a warning (None) and never fails the run.

    ``announce``: print the report's path now (the run pipeline prints it after its summary instead).
    """
    try:
        path = write_run_report(run_dir)
    except Exception as e:  # the run's results are already saved; the report can be rebuilt later
        console.print(f"[yellow]warning[/yellow] report.html could not be written ({e!r}); "
                      f"try `tuneforge report {run_dir}`")
        return None
    if announce:
        print_path(console, "report", path)
    return path

"""The deeper evaluation of a finished run, beyond the plain test metrics.

Called by the pipeline once the model is final, before ``metrics.json`` is written:

* ``test_outputs.npz`` (test logits / predictions and targets), so that comparisons can
  run paired tests on the same examples without the model;
* ``test_ci``: bootstrap intervals of every scalar test metric (``evaluate.bootstrap``,
  ``evaluate.confidence``);
* ``test_curves``: downsampled ROC, precision-recall and reliability curves (when the task draws them);
* ``explanations.json``: occlusion explanations of ``evaluate.explain`` test examples, with gradient
  attributions (``evaluate.attribution``; why an image has no Grad-CAM map is printed too);
* ``top_losses.json``: the ``evaluate.top_losses`` highest-loss test examples with their inputs, and the
  most confused class pairs (classification);
* ``baseline_random_init``: the "without pre-training" ablation (``evaluate.random_init``);
* ``retention`` (``evaluate.retention``; without it, the cheap default of :mod:`.default_retention`).

Optional analyses that fail (explanations, retention) do not lose the run: the error is
recorded under that key and printed, and the metrics are still written.
"""
from __future__ import annotations

import traceback
from pathlib import Path

import numpy as np
from rich.markup import escape

from ..evaluation.explain import explain_examples, pick_examples
from ..training.run_folder import write_json
from .random_init import random_init_baseline
from .retention import measure_retention
from .default_retention import representation_retention


def save_outputs(run_dir: Path, outputs: np.ndarray, targets: np.ndarray) -> None:
    np.savez_compressed(run_dir / "test_outputs.npz", outputs=np.asarray(outputs, dtype=np.float32),
                        targets=_padded(targets))


def _padded(targets) -> np.ndarray:
    """Targets as a plain array; one tag array per sentence (token tasks) padded with -100."""
    t = np.asarray(targets)
    if t.dtype != object:
        return t
    out = np.full((len(t), max((len(r) for r in t), default=0)), -100, dtype=np.int64)
    for i, row in enumerate(t):
        out[i, :len(row)] = row
    return out


def load_outputs(run_dir: Path):
    """(outputs, targets) saved by :func:`save_outputs`, or None."""
    path = Path(run_dir) / "test_outputs.npz"
    if not path.is_file():
        return None
    with np.load(path) as f:
        return f["outputs"], f["targets"]


def evaluate_extras(p, run_dir: Path, test_outputs, device, precision, console, decision=None) -> dict:
    """Everything listed in the module docstring; returns the keys to add to ``metrics.json``."""
    ev, seed = p.recipe.evaluate, p.recipe.train.seed
    out: dict = {}
    if test_outputs is not None:
        targets = p.data.test.targets
        save_outputs(run_dir, test_outputs, targets)
        out.update(p.task.test_statistics(targets, test_outputs, p.data.label_names, ev, seed, decision))
        examples = p.task.test_examples(p.data.test.inputs, targets, test_outputs, p.data.label_names)
        if examples is not None:   # a task's own sample of test predictions
            write_json(run_dir / examples[0], examples[1])
        if ev.top_losses:
            out.update(_guarded_key(console, "top_losses", lambda: _top_losses(p, run_dir, test_outputs, decision)))
        if p.task.explains and ev.explain:
            out["explanations"] = _guarded(console, "explanations", lambda: _explain(p, run_dir, device, console))
    if ev.random_init:
        console.print("[dim]baseline[/dim] training the same architecture from random weights")
        out["baseline_random_init"] = random_init_baseline(p, device, precision)
    out.update(p.task.extra_evaluation(p, run_dir, device, console))
    if ev.retention is not None and "retention" not in out:
        out["retention"] = _guarded(console, "retention", lambda: measure_retention(p, p.model, device, console))
    elif "retention" not in out:
        measured = _guarded(console, "retention", lambda: representation_retention(p, p.model, device, precision))
        if measured is not None:
            out["retention"] = measured
    return out


def _explain(p, run_dir: Path, device, console) -> str:
    indices = pick_examples(len(p.encoded["test"]), p.recipe.evaluate.explain)
    entries = explain_examples(p.model, p.encoded["test"], indices, p.data.label_names, device,
                               attribution=p.recipe.evaluate.attribution)
    write_json(run_dir / "explanations.json", entries)
    # no Grad-CAM map (input too small, a transformer) or one on an earlier layer: said once, as the report does
    for why in dict.fromkeys((e.get("attribution") or {}).get("reason") or (e.get("attribution") or {}).get("note")
                             for e in entries):
        if why:
            console.print(f"[dim]explain[/dim] Grad-CAM: {escape(why)}")
    return "explanations.json"


def _top_losses(p, run_dir: Path, test_outputs, decision) -> dict:
    found = p.task.top_losses(p.data.test.targets, test_outputs, p.data.label_names, p.recipe.evaluate.top_losses,
                              decision)
    if found is None:
        return {}
    inputs = p.data.test.inputs
    for row in found["examples"]:
        i = row["index"]
        if isinstance(inputs, list):   # text (a pair is shown as "a ||| b", as predict takes it)
            x = inputs[i]
            row["text"] = " ||| ".join(map(str, x)) if isinstance(x, (list, tuple)) else str(x)
        elif getattr(p.encoded["test"], "pixels", None) is not None:
            row["image"] = p.encoded["test"].pixels[i].permute(1, 2, 0).numpy().astype(np.uint8).tolist()
    write_json(run_dir / "top_losses.json", found)
    return {"top_losses": "top_losses.json"}


def _guarded_key(console, what: str, fn) -> dict:
    """Like :func:`_guarded` for an analysis that returns metrics keys: ``{what: error}`` on failure."""
    found = _guarded(console, what, fn)
    return {what: found} if "error" in found else found


def _guarded(console, what: str, fn):
    try:
        return fn()
    except Exception as e:  # an optional analysis must not lose a finished training run
        console.print(f"[yellow]warning[/yellow] {what} failed: {e!r}")
        return {"error": repr(e), "traceback": traceback.format_exc(limit=5)}

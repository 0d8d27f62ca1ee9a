"""The top of a run report: the end-of-run diagnostics as warnings, each with its cause and overrides,
which model the run hands back when that is its step-0 model, and the "did fine-tuning help?" verdict
in words (shared with the terminal summary)."""
from __future__ import annotations

from ..evaluation.diagnostics import verdict
from .html import esc, section
from .html import table

CSS = ("<style>.diag{border-left:4px solid #d08a00;background:#fff8e6;padding:8px 12px;margin:8px 0;"
       "border-radius:4px}.diag code{background:#f1f3f6;padding:1px 4px;border-radius:3px}"
       ".verdict{font-size:1.05em;margin:4px 0 10px}</style>")


def diagnostics_section(metrics: dict) -> str:
    """'Diagnostics': one box per warning ("" when the run is healthy)."""
    items = metrics.get("diagnostics") or []
    if not items:
        return ""
    boxes = []
    for d in items:
        tries = " ".join(f"<code>{esc(t)}</code>" for t in d.get("try", []))
        boxes.append(f'<div class="diag"><b>{esc(d["code"])}</b>: {esc(d["message"])}.<br>'
                     f'Likely cause: {esc(d["cause"])}.' + (f"<br>Try: {tries}" if tries else "") + "</div>")
    return CSS + section("Diagnostics", *boxes, anchor="diagnostics")


def final_model_section(metrics: dict) -> str:
    """'Final model': a box when the run hands back its step-0 model (a warning when it trained and discarded
    the training, a note when its strategy takes no step); "" for a run that hands back a trained model."""
    final = metrics.get("final_model") or {}
    if not final.get("is_step0"):
        return ""
    if final.get("training_discarded"):
        box = (f'<div class="diag"><b>The model this run hands back is its step-0 model, not the trained one.</b> '
               f'{esc(final.get("why", ""))}.</div>')
    else:
        box = f'<p>The model this run hands back is its step-0 model: {esc(final.get("why", ""))}.</p>'
    return CSS + section("Final model", box, anchor="final-model")


def verdict_html(metrics: dict) -> str:
    """The verdict sentence for the 'did fine-tuning help?' section."""
    split = metrics.get("test") or metrics.get("validation") or {}
    monitor = metrics.get("monitor")
    text = verdict(metrics.get("vs_baseline"), split.get(monitor), (metrics.get("baseline") or {}).get(monitor))
    return f'<p class="verdict"><b>{esc(text)}</b></p>'


def folds_beside_baseline(metrics: dict) -> str:
    """Cross-validation: per metric, the model's mean ± std beside the baseline's and the majority's."""

    folds = metrics.get("folds") or {}
    if not folds:
        return ""

    def cell(summary, name):
        s = (summary or {}).get(name)
        return "-" if not s else f"{s['mean']:.4f} ± {s['std']:.4f}"

    rows = [[name, cell(folds, name), cell(metrics.get("folds_baseline"), name),
             cell(metrics.get("folds_majority"), name)] for name in folds]
    return section("Did fine-tuning help? (mean ± std over folds)", verdict_html(metrics),
                   table(["metric", "fine-tuned", "frozen baseline (linear probe)", "majority / mean predictor"], rows),
                   anchor="help")

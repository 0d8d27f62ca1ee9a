"""Report sections built from a run's saved files (metrics.json, history.jsonl, plan.json...).

Each function takes already-parsed data and returns an HTML fragment ("" when there is
nothing to show), so the run report, the cross-validation report and the comparison
report share them.
"""
from __future__ import annotations

from typing import Optional

from . import figures
from .html import esc, grid, img, note, section, table, with_ci
from .generation import reference_retention
from ..training.final_model import handed_back, model_label

def headline_metrics(metrics: dict) -> list[str]:
    """The metrics the run's task puts first (``metrics["columns"]["headline"]``).

    A folder written before tasks named their columns gets the scalar metrics it has, in order.
    """
    split = metrics.get("test") or metrics.get("validation") or {}
    named = (metrics.get("columns") or {}).get("headline")
    if named:
        return [n for n in named if n in split]
    return [n for n, v in split.items() if isinstance(v, (int, float)) and not isinstance(v, bool)][:7]


def comparison(metrics: dict, verdict: str = "") -> str:
    """Baselines beside the fine-tuned model, with bootstrap intervals on the fine-tuned row."""
    split = "test" if metrics.get("test") else "validation"
    names = headline_metrics(metrics)
    ci = metrics.get("test_ci", {}) if split == "test" else {}
    rows = []
    probe = metrics.get("baseline_name") or "pre-trained, linear probe"
    for label, key in (("majority / mean predictor", "baseline_majority"),
                       (probe, "baseline"),
                       ("same architecture, random init", "baseline_random_init")):
        m = metrics.get(key)
        if m and "error" not in m:
            rows.append([esc(label)] + [with_ci(m.get(n), (m.get("ci") or {}).get(n)) for n in names])
    tuned = metrics.get(split) or {}
    rows.append([f"<b>{esc(model_label(metrics['strategy']['name'], metrics.get('final_model')))}</b>"]
                + [with_ci(tuned.get(n), ci.get(n)) for n in names])
    level = metrics.get("confidence", 0.95)
    text = (f"On the {split} split ({metrics.get('data', {}).get('sizes', {}).get(split, '?')} examples). "
            f"Brackets: {level:.0%} bootstrap interval ({metrics.get('bootstrap', 0)} resamples).")
    return section("Did fine-tuning help?", verdict, table(["model"] + names, rows, highlight=len(rows) - 1, raw=True),
                   note(text), anchor="help")


def _whole(value):
    """Megabytes to the nearest one: "1,210", not "1209.7109"."""
    return None if value is None else int(round(value))


def cost(metrics: dict) -> str:
    t = metrics.get("train", {})
    resumed = bool(metrics.get("resumed"))  # training time then spans every process; the rest only the last
    rows = [["training time, all processes (s)" if resumed else "training time (s)", t.get("seconds")],
            ["training time, this process (s)", t.get("seconds_this_process")],
            ["samples per second", t.get("samples_per_second")],
            ["optimizer steps", t.get("steps")], ["stopped because", t.get("stop_reason")],
            ["model handed back", handed_back(metrics.get("final_model"))],
            ["trainable parameters", t.get("trainable_parameters")], ["total parameters", t.get("total_parameters")],
            ["peak memory (MB)", _whole(t.get("peak_memory_mb"))], ["precision", metrics.get("precision")],
            ["whole process (s)" if resumed else "whole run (s)", metrics.get("seconds_total")],
            *[[f"· {name} (s)", seconds] for name, seconds in (metrics.get("phases") or {}).items()]]
    return section("What did it cost?", table(["", "value"], [r for r in rows if r[1] is not None]), anchor="cost")


def training(history: list[dict], monitor: Optional[str]) -> str:
    if not history:
        return section("Training", note("no history.jsonl (no evaluation happened)"))
    return section("Training", grid(_img(figures.learning_curves(history, monitor), "train loss and validation "
                                                                                     "metric"),
                                    _img(figures.learning_rates(history), "learning rate per block")),
                   anchor="training")


def _img(uri: Optional[str], caption: str) -> str:
    return img(uri, caption) if uri else ""


def test_details(metrics: dict) -> str:
    test = metrics.get("test") or {}
    if "confusion_matrix" not in test:
        return ""
    labels = metrics.get("data", {}).get("label_names") or [str(i) for i in range(len(test["confusion_matrix"]))]
    curves = metrics.get("test_curves", {})
    figs = grid(_img(figures.confusion_matrix(test["confusion_matrix"], labels), "confusion matrix"),
                _img(figures.roc_curves(curves.get("roc", {})), "ROC curves"),
                _img(figures.pr_curves(curves.get("pr", {})), "precision-recall curves"),
                _img(figures.reliability_diagram(curves.get("calibration", {})), "reliability diagram"))
    per_class = table(["class", "precision", "recall", "f1", "support"],
                      [[n, c["precision"], c["recall"], c["f1"], c["support"]] for n, c in test["per_class"].items()])
    return section("Test split in detail", figs, per_class, anchor="test")


def per_label(metrics: dict) -> str:
    """Per-label scores and decision thresholds (multi-label tasks write ``test.per_label``)."""
    labels = (metrics.get("test") or {}).get("per_label")
    if not labels:
        return ""
    rows = [[n, c["precision"], c["recall"], c["f1"], c["support"], c.get("threshold")] for n, c in labels.items()]
    return section("Test split per label", table(["label", "precision", "recall", "f1", "support", "threshold"], rows),
                   note("A label is predicted when its probability reaches its threshold (tuned for that "
                        "label's F1 on the validation split; 0.5 without one)."), anchor="labels")


def plan(rows: list[dict]) -> str:
    if not rows:
        return ""
    body = [[r["name"], r["start_step"], ", ".join(f"{b}" + (f" ×{r['lr_scales'][b]:g}" if r.get("lr_scales", {})
                                                              .get(b, 1) != 1 else "") for b in r["trainable"]),
             r.get("trainable_parameters")] for r in rows]
    return section("Strategy plan", table(["stage", "from step", "trains (block × lr scale)", "parameters"], body),
                   anchor="plan")


def retention(r: Optional[dict]) -> str:
    if not r:
        return ""
    if "error" in r:
        return section("Retention", note(f"retention could not be measured: {r['error']}"))
    if r.get("default"):  # the cheap measure of every run without evaluate.retention
        rows = [[f"{r['measure']} (headline)", r.get("score")],
                ["embedding similarity preserved (Spearman)", r.get("embedding_spearman")]]
        return section("Retention: how far did the features move?", table(["measure", "value"], rows),
                       note(f"{r['meaning']}. Probe set: {r.get('probe_examples')} examples from the "
                            f"{r.get('probe_source')}. Set evaluate.retention to measure forgetting per block and "
                            "on a source task."), anchor="retention")
    if "measure" in r:   # a causal LM's: perplexity on a reference text
        return reference_retention(r)
    rows = [["headline score (1 = nothing forgotten)", r.get("score")],
            ["embedding similarity preserved (Spearman)", r.get("embedding_spearman")],
            ["mean linear CKA over blocks", r.get("mean_cka")]]
    if r.get("original_head_agreement") is not None:
        rows.append(["original head: same prediction as before", r["original_head_agreement"]])
    src = r.get("source_task")
    if src:
        rows += [[f"source task {src['metric']} before", src["before"]], [f"source task {src['metric']} after", src["after"]],
                 [f"source task {src['metric']} after (probe re-fitted)", src["after_refit"]]]
    parts = [table(["measure", "value"], rows),
             note(f"probe set: {r.get('probe_examples')} examples from the {r.get('probe_source')}"
                  + (f"; {r['original_head_note']}" if r.get("original_head_note") else "")),
             grid(_img(figures.bars(r.get("cka", {}), "linear CKA, pre-trained vs fine-tuned", "CKA"),
                       "representation similarity per block"))]
    return section("Retention: what was forgotten?", *parts, anchor="retention")


def data(metrics: dict) -> str:
    d = metrics.get("data", {})
    sizes = table(["split", "examples", "how"], [[k, v, d.get(k, {}).get("how", "")] for k, v in d.get("sizes", {}).items()])
    cleaning = table(["source", "rows read", "rows kept", "dropped", "filled"],
                     [[c["source"], c["rows_read"], c["rows_kept"],
                       ", ".join(f"{n} {why}" for why, n in c["dropped"].items() if n) or "none",
                       ", ".join(f"{n} {why}" for why, n in c.get("filled", {}).items() if n) or "none"]
                      for c in d.get("cleaning", [])])
    return section("Data", sizes, "<h3>Cleaning</h3>" + cleaning if d.get("cleaning") else "",
                   class_balance(metrics), anchor="data")


def class_balance(metrics: dict) -> str:
    """Examples per class in each split, what training did about imbalance, and a tuned threshold."""
    counts = metrics.get("data", {}).get("class_counts")
    if not counts:
        return ""
    splits = list(counts)
    names = list(counts[splits[0]])
    rows = [[n] + [counts[s].get(n, 0) for s in splits] for n in names]
    out = "<h3>Examples per class</h3>" + table(["class"] + splits, rows)
    b = metrics.get("class_balance") or {}
    if b:
        ratio = f"largest/smallest class in train {b['imbalance_ratio']:.1f}; " if b.get("imbalance_ratio") else ""
        weights = ("; loss weights " + ", ".join(f"{n} {w:.3g}" for n, w in zip(names, b["weights"]))
                   if b.get("weights") else "")
        out += note(f"{ratio}class balance: {b['choice']} ({b['reason']}){weights}")
    d = metrics.get("decision") or {}
    if d.get("threshold") is not None:
        out += note(f"decision threshold {d['threshold']:.2f} on P({names[1] if len(names) > 1 else '1'}), tuned on "
                    f"validation for {d.get('metric')} ({d.get('why', '')})")
    return out


def folds(summary: dict, per_fold: list[dict]) -> str:
    """Cross-validation: mean ± std and each fold's value."""
    if not summary:
        return ""
    k = len(per_fold)
    rows = [[name, s["mean"], s["std"]] + list(s["values"]) for name, s in summary.items()]
    return section(f"{k}-fold cross-validation (test = the held-out fold)",
                   table(["metric", "mean", "std"] + [f"fold {i + 1}" for i in range(k)], rows), anchor="folds")

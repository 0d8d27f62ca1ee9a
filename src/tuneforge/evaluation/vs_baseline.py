"""Did fine-tuning beat the frozen baseline? The paired test behind it and the verdict in words.

* :func:`compare_to_baseline`: paired bootstrap of the model against the baseline on the same
  examples (hold-out test);
* :func:`compare_folds_to_baseline`: paired t-test across cross-validation folds;
* :func:`verdict`: one sentence for the terminal and the report ("Yes: ...", "No: ...", "Not shown: ...").

Both tests return ``{"metric", "difference", "ci", "p_value", "significant", "better", "worse",
"method"}`` with ``better`` / ``worse`` oriented by whether the metric is greater-is-better.

Example::

    vs = compare_to_baseline("classification", "macro_f1", True, y, model_logits, probe_logits)
    print(verdict(vs))
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from .bootstrap import paired_bootstrap


def compare_to_baseline(kind: str, metric: str, greater: bool, y_true, outputs, baseline_outputs,
                        resamples: int = 1000, confidence: float = 0.95, seed: int = 0, paired=None) -> dict:
    """Paired bootstrap of model minus baseline on the same examples, oriented so ``gain > 0`` is better.

    ``paired``: the task's own paired bootstrap ``(y, a, b, metric, resamples, confidence, seed)``
    (e.g. ``Task.paired_bootstrap``); default: the one of :mod:`.bootstrap` for ``kind``.

    Returns ``{"metric", "difference", "ci", "p_value", "significant", "better", "worse", "method"}``.
    """

    if paired is None:
        paired = lambda *a: paired_bootstrap(kind, *a)  # noqa: E731
    res = paired(y_true, outputs, baseline_outputs, metric, max(resamples, 200), confidence, seed)
    p, diff = res["p_value"], res["difference"]
    significant = bool(np.isfinite(p) and p < 1.0 - confidence)
    gain = diff if greater else -diff
    return {"metric": metric, "difference": diff, "ci": res["ci"], "p_value": p, "significant": significant,
            "better": significant and gain > 0, "worse": significant and gain < 0,
            "method": "paired bootstrap on the same examples"}


def compare_folds_to_baseline(model_values, baseline_values, metric: str, greater: bool,
                              confidence: float = 0.95) -> dict:
    """Paired t-test across cross-validation folds (model minus baseline), same keys as
    :func:`compare_to_baseline` (``ci``: the interval of the mean difference)."""
    from scipy import stats

    a, b = np.asarray(model_values, dtype=np.float64), np.asarray(baseline_values, dtype=np.float64)
    d = a - b
    diff = float(d.mean())
    if len(d) > 1 and np.any(d != d[0]):
        p = float(stats.ttest_rel(a, b).pvalue)
        half = float(stats.t.ppf(0.5 + confidence / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))
    else:   # identical differences in every fold: no spread to test against
        p, half = (1.0 if diff == 0 or len(d) < 2 else 0.0), 0.0
    significant = bool(np.isfinite(p) and p < 1.0 - confidence)
    gain = diff if greater else -diff
    return {"metric": metric, "difference": diff, "ci": [diff - half, diff + half], "p_value": p,
            "significant": significant, "better": significant and gain > 0, "worse": significant and gain < 0,
            "method": f"paired t-test across {len(d)} folds"}


def verdict(vs_baseline: Optional[dict], score: Optional[float] = None, baseline_score: Optional[float] = None,
            what: str = "the frozen pre-trained baseline (linear probe)") -> str:
    """'Did fine-tuning help?' in one sentence."""
    if not vs_baseline:
        if score is None or baseline_score is None:
            return f"No comparison: {what} was not computed (evaluate.baseline=false or no test split)."
        return (f"Not tested for significance: fine-tuned {score:.4f} against {baseline_score:.4f} for {what}.")
    m, d, p = vs_baseline["metric"], vs_baseline["difference"], vs_baseline["p_value"]
    ci = vs_baseline.get("ci") or [float("nan")] * 2
    detail = f"{m} {d:+.4f} (interval [{ci[0]:+.4f}, {ci[1]:+.4f}], p={p:.3f}, {vs_baseline['method']})"
    if vs_baseline["better"]:
        return f"Yes: fine-tuning beat {what}; {detail}."
    if vs_baseline["worse"]:
        return f"No: fine-tuning made the model worse than {what}; {detail}. See the diagnostics."
    return (f"Not shown: the fine-tuned model is not significantly better than {what}; {detail}. "
            "A larger test set or a different strategy may settle it.")

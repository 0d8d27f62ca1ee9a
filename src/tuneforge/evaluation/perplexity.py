"""Perplexity of a causal LM from per-example ``[summed NLL, target tokens]`` rows, with bootstrap intervals.

Perplexity is ``exp(total NLL / total target tokens)`` over a split (token-weighted, as a
language model is trained), ``nll`` its logarithm. Bootstrap intervals resample whole examples
(documents / instruction pairs), never single tokens, since tokens of one example are not
independent.

Example::

    out = np.array([[12.0, 5], [30.0, 9]])     # from CausalLMModel over two examples
    lm_metrics(out)                             # {'perplexity': 10.2..., 'nll': 3.0, 'tokens': 14}
"""
from __future__ import annotations

import numpy as np

from .metrics import register_metric, set_default_metric

KIND = "language-model"


def lm_metrics(outputs: np.ndarray) -> dict:
    outputs = np.asarray(outputs, dtype=np.float64).reshape(-1, 2)
    tokens = float(outputs[:, 1].sum())
    nll = float(outputs[:, 0].sum() / tokens) if tokens else float("nan")
    return {"perplexity": float(np.exp(nll)), "nll": nll, "tokens": int(tokens), "examples": int(len(outputs))}


def _resampled(outputs: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """``[resamples]`` NLL per token of bootstrap resamples of the examples."""
    outputs = np.asarray(outputs, dtype=np.float64).reshape(-1, 2)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(outputs), size=(resamples, len(outputs)))
    return outputs[idx, 0].sum(1) / np.maximum(outputs[idx, 1].sum(1), 1e-12)


def lm_intervals(outputs: np.ndarray, resamples: int, confidence: float, seed: int) -> dict:
    """``{"perplexity": [lo, hi], "nll": [lo, hi]}`` by the percentile bootstrap over examples."""
    if not resamples or len(outputs) < 2:
        return {}
    nll = _resampled(outputs, resamples, seed)
    a = (1 - confidence) / 2
    lo, hi = np.quantile(nll, [a, 1 - a])
    return {"nll": [float(lo), float(hi)], "perplexity": [float(np.exp(lo)), float(np.exp(hi))]}


def lm_paired_bootstrap(outputs_a: np.ndarray, outputs_b: np.ndarray, metric: str, resamples: int,
                        confidence: float, seed: int) -> dict:
    """Difference ``a - b`` of ``metric`` (perplexity or nll) on the same examples, resampled together."""
    a, b = (np.asarray(o, dtype=np.float64).reshape(-1, 2) for o in (outputs_a, outputs_b))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), size=(resamples, len(a)))
    fa = a[idx, 0].sum(1) / np.maximum(a[idx, 1].sum(1), 1e-12)
    fb = b[idx, 0].sum(1) / np.maximum(b[idx, 1].sum(1), 1e-12)
    if metric == "perplexity":
        fa, fb = np.exp(fa), np.exp(fb)
    diff = fa - fb
    observed = lm_metrics(a)[metric] - lm_metrics(b)[metric]
    q = (1 - confidence) / 2
    p = float(min(1.0, 2 * min((diff <= 0).mean(), (diff >= 0).mean())))
    return {"metric": metric, "difference": float(observed),
            "ci": [float(np.quantile(diff, q)), float(np.quantile(diff, 1 - q))], "p_value": p,
            "resamples": resamples}


register_metric("perplexity", KIND, "exp of the mean next-token negative log-likelihood over target tokens",
                lambda *a, **k: float("nan"), lower_is_better=True)
register_metric("nll", KIND, "mean next-token negative log-likelihood (nats per target token)",
                lambda *a, **k: float("nan"), lower_is_better=True)
set_default_metric(KIND, "perplexity")

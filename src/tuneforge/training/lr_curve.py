"""The arithmetic of the learning-rate range test: the sweep, the smoothing, the suggestion.

Pure functions of numbers (no model), so that the rule that turns a loss-against-lr curve
into a suggested learning rate can be read and tested on its own. The sweep itself, on a
real model, is :mod:`tuneforge.training.lr_finder`.

Example::

    lrs = exponential_lrs(1e-7, 10.0, 100)
    ...                                   # one optimizer step per lr, record each batch's loss
    curve = smooth(losses)
    lr, index = suggest_lr(lrs[:len(losses)], curve)
"""
from __future__ import annotations

import math

import numpy as np

DEFAULT_BETA = 0.9          # EMA factor: a time constant of ~10 steps, a tenth of the default sweep
RULE = "a tenth of the learning rate at the minimum of the smoothed loss"


def exponential_lrs(start: float, end: float, steps: int) -> np.ndarray:
    """``steps`` learning rates from ``start`` to ``end`` (both included), equally spaced in log."""
    return np.geomspace(start, end, steps)


def ema(values, beta: float = DEFAULT_BETA) -> np.ndarray:
    """Exponential moving average with bias correction (the first values are not pulled to zero).

    ``out[i] = avg_i / (1 - beta**(i+1))`` with ``avg_i = beta * avg_{i-1} + (1 - beta) * x_i``,
    so ``out[0] == x_0``. It is causal: ``out[i]`` depends on ``x_0..x_i`` only, which is what the
    early stop during the sweep can use.
    """
    out, avg = np.empty(len(values)), 0.0
    for i, x in enumerate(values):
        avg = beta * avg + (1.0 - beta) * float(x)
        out[i] = avg / (1.0 - beta ** (i + 1))
    return out


def smooth(values, beta: float = DEFAULT_BETA) -> np.ndarray:
    """The loss curve smoothed without lag: the bias-corrected EMA run forwards, then backwards.

    A one-way EMA lags by about ``beta / (1 - beta)`` steps, which on a sweep of 100 steps over
    8 decades moves every feature of the curve by most of a decade towards higher rates; running
    it back over its own output cancels the shift (the same idea as a zero-phase filter). The
    two directions are smoothed apart at the point where the one-way EMA was lowest: beyond it
    the loss diverges, and the backward pass must not carry that rise into the fall before it.
    """
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return values
    cut = int(np.argmin(ema(values, beta))) + 1
    two_way = lambda v: ema(ema(v, beta)[::-1], beta)[::-1] if len(v) else v  # noqa: E731
    return np.concatenate([two_way(values[:cut]), two_way(values[cut:])])


def suggest_lr(lrs, smoothed) -> tuple[float, int]:
    """The suggested learning rate and the index of the point it is read at, by :data:`RULE`.

    The rule: find the minimum of the smoothed curve (beyond it the loss rises: those rates are
    too high) and suggest a tenth of the rate there. At the minimum training is already on the
    edge of diverging; a decade lower it still falls fast and stays stable. Why this rule and not
    the steepest point of the fall: on the curves we measured (least squares by SGD, a tiny BERT,
    MiniLM on tweets; docs/lr-find.md) the fall often ends in one or two steps right before the
    divergence, so the "steepest" point landed on the edge itself, while a tenth of the minimum
    fell inside the rates that train well every time. A minimum at the first point (the curve
    never falls) gives the first rate swept; callers flag such curves (see ``MIN_DROP`` in
    :mod:`.lr_finder`).
    """
    lrs, smoothed = np.asarray(lrs, dtype=float), np.asarray(smoothed, dtype=float)
    if len(lrs) != len(smoothed) or len(lrs) < 2:
        raise ValueError(f"need at least 2 matching points, got {len(lrs)} lrs and {len(smoothed)} losses")
    finite = np.isfinite(smoothed)
    last = int(np.argmax(~finite)) if not finite.all() else len(smoothed)  # the curve ends at a non-finite value
    lo = int(np.argmin(smoothed[:max(last, 1)]))
    lr = max(float(lrs[0]), float(lrs[lo]) / 10.0)
    return lr, int(np.argmin(np.abs(np.log(lrs) - np.log(lr))))


def round_lr(lr: float, digits: int = 2) -> float:
    """``lr`` to ``digits`` significant digits (3.2e-04, not 3.1622776e-04): the curve is not more precise."""
    if lr <= 0 or not math.isfinite(lr):
        raise ValueError(f"not a learning rate: {lr}")
    return float(f"{lr:.{digits - 1}e}")

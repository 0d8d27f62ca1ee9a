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
RISE = 0.1               # a climb of this share of the fall ends the first valley
RULE = "a tenth of the learning rate at the bottom of the first valley of the smoothed loss"


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


def valley_bottom(smoothed, rise: float = RISE) -> int:
    """Index of the bottom of the curve's first valley: the lowest point before the smoothed loss
    first climbs more than ``rise`` times its whole fall (start to lowest point) above the lowest
    value seen so far. The first 5% of the points only set the start: the smoothing has the least
    data there."""
    y = np.asarray(smoothed, dtype=float)
    finite = np.isfinite(y)
    end = int(np.argmax(~finite)) if not finite.all() else len(y)   # a non-finite value ends the curve
    y = y[:max(end, 1)]
    skip = min(len(y) - 1, max(1, len(y) // 20))
    body = y[skip:]
    fall = body[0] - body.min()
    if fall <= 0:
        return skip
    climbed = np.nonzero(body > np.minimum.accumulate(body) + rise * fall)[0]
    cut = int(climbed[0]) if len(climbed) else len(body)
    return skip + int(np.argmin(body[:cut]))


def suggest_lr(lrs, smoothed) -> tuple[float, int]:
    """The suggested learning rate and the index of the swept rate nearest to it, by :data:`RULE`.

    The rule: find the bottom of the smoothed curve's first valley (:func:`valley_bottom`;
    beyond it the loss rises: those rates are too high) and suggest a tenth of the rate there.
    At the bottom, training is already on the edge of diverging; a decade lower the loss still
    falls fast and stays stable. Why this rule and not the steepest point of the fall, or the
    curve's lowest point overall: on the curves we measured (least squares by SGD, a tiny BERT,
    MiniLM full and LoRA on tweets; docs/lr-find.md) the fall often ends in one or two steps
    right before the divergence, so the steepest point landed on the edge itself; and LoRA's
    curve rose after its first valley and then dipped again, noisily, at rates 50x higher, where
    its lowest point was. A curve that never falls gives the first rate swept; callers flag
    such curves (see ``MIN_DROP`` in :mod:`.lr_finder`).
    """
    lrs, smoothed = np.asarray(lrs, dtype=float), np.asarray(smoothed, dtype=float)
    if len(lrs) != len(smoothed) or len(lrs) < 2:
        raise ValueError(f"need at least 2 matching points, got {len(lrs)} lrs and {len(smoothed)} losses")
    lo = valley_bottom(smoothed)
    lr = max(float(lrs[0]), float(lrs[lo]) / 10.0)
    return lr, int(np.argmin(np.abs(np.log(lrs) - np.log(lr))))


def round_lr(lr: float, digits: int = 2) -> float:
    """``lr`` to ``digits`` significant digits (3.2e-04, not 3.1622776e-04): the curve is not more precise."""
    if lr <= 0 or not math.isfinite(lr):
        raise ValueError(f"not a learning rate: {lr}")
    return float(f"{lr:.{digits - 1}e}")

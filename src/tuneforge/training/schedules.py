"""Learning-rate schedules as pure functions of the step.

``multiplier(step, total, warmup)`` is in [0, 1]; the trainer sets each group's learning
rate to ``lr * group scale * multiplier`` before every optimizer step. Being pure functions
of the step, they need no state to resume exactly.
"""
from __future__ import annotations

import math

from ..registry import Registry

SCHEDULERS = Registry("scheduler")


def _warm(step: int, warmup: int) -> float | None:
    if warmup > 0 and step < warmup:
        return (step + 1) / (warmup + 1)
    return None


@SCHEDULERS.register("constant", "constant after warmup")
def constant(step: int, total: int, warmup: int) -> float:
    w = _warm(step, warmup)
    return 1.0 if w is None else w


@SCHEDULERS.register("linear", "linear warmup, then linear decay to zero")
def linear(step: int, total: int, warmup: int) -> float:
    w = _warm(step, warmup)
    if w is not None:
        return w
    return max(0.0, (total - step) / max(1, total - warmup))


@SCHEDULERS.register("cosine", "linear warmup, then cosine decay to zero")
def cosine(step: int, total: int, warmup: int) -> float:
    w = _warm(step, warmup)
    if w is not None:
        return w
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


@SCHEDULERS.register("one-cycle", "one cycle: cosine rise from lr/25 over the warmup (30% if unset), cosine fall")
def one_cycle(step: int, total: int, warmup: int) -> float:
    warmup = warmup if warmup > 0 else max(1, int(0.3 * total))
    start, end = 1 / 25, 1 / 25 / 1e4
    if step < warmup:
        p = step / warmup
        return start + (1 - start) * 0.5 * (1 - math.cos(math.pi * p))
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return end + (1 - end) * 0.5 * (1 + math.cos(math.pi * p))


def warmup_steps(warmup: float, total: int) -> int:
    """The recipe's ``scheduler.warmup``: a fraction of the steps if < 1, else a step count."""
    return int(round(warmup * total)) if warmup < 1 else int(warmup)

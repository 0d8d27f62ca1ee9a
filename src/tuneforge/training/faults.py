"""Deterministic crash points for reliability tests: ``TUNEFORGE_FAULT="POINT:N"``.

When the environment variable is set, the process kills itself with SIGKILL (no
cleanup, no ``finally``, exactly like the kernel's OOM killer or a pre-empted job) the
``N``-th time it passes the named point. Points:

``step``
    after an optimizer step and its callbacks (checkpointing included); ``N`` counts
    the steps taken in this process, so ``step:3`` dies after the third one.
``checkpoint-write``
    inside a checkpoint write, after the weights file and before the optimizer state,
    i.e. with a half-written temporary folder on disk.
``evaluate``
    at the start of a validation evaluation.
``stage``
    when the strategy's plan moves to a new stage (not counting the first stage).

One point does not kill but poisons a value, to test non-finite handling without wrecking the model:

``nan-loss``
    the ``N``-th training loss computed in this process becomes NaN.

Unset (the normal case) the cost is one dictionary lookup per point. Example::

    TUNEFORGE_FAULT=checkpoint-write:2 tuneforge run recipe.yaml   # dies writing the 2nd checkpoint
    tuneforge run --resume runs/<the run>                          # continues from the 1st
"""
from __future__ import annotations

import os
import signal

ENV = "TUNEFORGE_FAULT"
POINTS = ("step", "checkpoint-write", "evaluate", "stage", "nan-loss")


def _parse(value: str | None) -> dict[str, int]:
    if not value:
        return {}
    point, _, count = value.strip().partition(":")
    if point not in POINTS or not count.isdigit() or int(count) < 1:
        raise ValueError(f"{ENV}={value!r}: expected POINT:N with POINT one of {', '.join(POINTS)} and N >= 1")
    return {point: int(count)}


_armed = _parse(os.environ.get(ENV))
_seen: dict[str, int] = {}


def _hit(name: str) -> bool:
    if name not in _armed:
        return False
    _seen[name] = _seen.get(name, 0) + 1
    return _seen[name] == _armed[name]


def fault_point(name: str) -> None:
    """Die here (SIGKILL) if ``TUNEFORGE_FAULT`` names this point and this is its N-th pass."""
    if _hit(name):
        os.kill(os.getpid(), signal.SIGKILL)


def poisoned_loss(loss):
    """``loss``, or NaN (same shape, device and graph) on the N-th call under ``TUNEFORGE_FAULT=nan-loss:N``."""
    return loss * float("nan") if _hit("nan-loss") else loss


def arm(value: str | None) -> None:
    """Re-read a fault specification (tests in one process; ``None`` disarms)."""
    global _armed
    _armed = _parse(value)
    _seen.clear()

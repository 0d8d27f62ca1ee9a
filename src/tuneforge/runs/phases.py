"""Where a run's wall-clock time goes: start-up, data preparation, model loading, training, evaluation...

A :class:`PhaseClock` is a lap timer threaded through the run pipeline. Each ``lap(name)`` charges the
time since the previous lap to ``name`` (a phase may be charged several times: encoding adds to
"data preparation" after the model has loaded), so the phases cover the whole run without gaps and
add up to its total. ``metrics.json`` records them as ``phases`` ({name: seconds}) next to
``seconds_total``, and the terminal summary prints them on one line.

Start-up (interpreter, imports, recipe parsing) is measured only when the command line starts the
clock with :meth:`PhaseClock.from_process_start`: the process's own start time comes from
``/proc/self/stat`` (Linux), so the imports before any tuneforge code ran count too. A run started from
Python (``tuneforge.finetune``) has no start-up phase: its process began long before the run.

Example::

    clock = PhaseClock.from_process_start()   # first lap "start-up": process start -> now
    load(); clock.lap("data preparation")
    fit(); clock.lap("training")
    clock.phases, clock.total                 # {"start-up": 1.9, "data preparation": 0.4, ...}, 12.3
"""
from __future__ import annotations

import os
import time
from typing import Optional

STARTUP = "start-up"


def seconds_since_process_start() -> Optional[float]:
    """Seconds since this process started (interpreter start included), or None off Linux."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # the command name may hold spaces and parentheses
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start time in ticks after boot
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - started)
    except (OSError, IndexError, ValueError, AttributeError):
        return None


class PhaseClock:
    """A lap timer: ``lap(name)`` charges the time since the previous lap to the phase ``name``."""

    def __init__(self, already: float = 0.0):
        self.phases: dict[str, float] = {STARTUP: already} if already else {}
        self._start = time.perf_counter() - already
        self._last = time.perf_counter()

    @classmethod
    def from_process_start(cls) -> "PhaseClock":
        """A clock whose first phase, "start-up", is the time from process start to now."""
        return cls(seconds_since_process_start() or 0.0)

    def lap(self, name: str) -> float:
        """Charge the time since the previous lap to ``name``; return the seconds charged."""
        now = time.perf_counter()
        seconds, self._last = now - self._last, now
        self.phases[name] = self.phases.get(name, 0.0) + seconds
        return seconds

    @property
    def total(self) -> float:
        """Seconds from the clock's start (the process's, for a command-line run) to now."""
        return time.perf_counter() - self._start

    def record(self) -> dict:
        """``{"phases": {...}, "seconds_total": ...}`` for metrics.json (phases in the order they began)."""
        return {"phases": {k: round(v, 3) for k, v in self.phases.items()}, "seconds_total": self.total}


def phases_line(phases: dict) -> str:
    """``start-up 1.9s, data preparation 0.4s, ...`` (phases under 0.05 s left out)."""
    return ", ".join(f"{name} {s:.1f}s" for name, s in phases.items() if s >= 0.05)

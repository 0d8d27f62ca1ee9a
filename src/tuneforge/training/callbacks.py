"""Callbacks: small objects that hook a fixed set of trainer events.

Events, in order: ``on_train_start``, then per optimizer step ``on_step_end``, per
evaluation ``on_evaluate``, per epoch ``on_epoch_end``; finally ``on_train_end``.
Callbacks run by ascending ``order``. A callback stops training by calling
``trainer.request_stop(reason)``. An error inside one names the callback and the event.
"""
from __future__ import annotations

from ..errors import TuneforgeError
from ..evaluation.metrics import ties

EVENTS = ("on_train_start", "on_step_end", "on_evaluate", "on_epoch_end", "on_train_end")


class Callback:
    order: int = 0

    def on_train_start(self, trainer) -> None: ...
    def on_step_end(self, trainer) -> None: ...
    def on_evaluate(self, trainer, metrics: dict) -> None: ...
    def on_epoch_end(self, trainer) -> None: ...
    def on_train_end(self, trainer) -> None: ...


class CallbackError(RuntimeError):
    pass


class CallbackList:
    def __init__(self, callbacks):
        self.callbacks = sorted(callbacks, key=lambda c: c.order)

    def __call__(self, event: str, trainer, *args) -> None:
        assert event in EVENTS, event
        for cb in self.callbacks:
            try:
                getattr(cb, event)(trainer, *args)
            except TuneforgeError:
                raise
            except Exception as e:
                raise CallbackError(f"callback {type(cb).__name__} failed in {event}: {e!r}") from e


class MetricTracker:
    """Tracks one monitored validation metric: which evaluation's weights a run keeps, and whether it improved.

    Two questions, two rules (docs/evaluation.md, "Which model a run hands back"):

    * :meth:`keeps`: do this evaluation's weights replace the kept ones (``train.restore_best``)? Yes
      when it is at least as good as the kept one: better, or tied (within a relative 1e-4,
      :func:`~tuneforge.evaluation.metrics.ties`). A tie goes to the later, more trained model, so
      training that leaves validation where the step-0 model (the solved head) had it is not thrown away.
    * :meth:`improved`: does it reset early stopping's patience? Only when better by more than
      ``min_delta`` and not tied (a tie is no improvement).
    """

    def __init__(self, name: str, greater_is_better: bool, min_delta: float = 0.0):
        self.name, self.greater, self.min_delta = name, greater_is_better, min_delta

    def value(self, metrics: dict) -> float:
        if self.name not in metrics:
            scalars = sorted(k for k, v in metrics.items() if isinstance(v, (int, float)))
            raise TuneforgeError(f"evaluate.metric: validation metric {self.name!r} does not exist; "
                                 f"available: {', '.join(scalars)}")
        return float(metrics[self.name])

    def improved(self, value: float, best: float | None) -> bool:
        """Better than ``best`` by more than ``min_delta`` and not a tie (early stopping's patience starts again)."""
        if best is None:
            return True
        if best != best:   # a NaN score: anything finite improves on it
            return value == value
        if ties(value, best):
            return False
        return value > best + self.min_delta if self.greater else value < best - self.min_delta

    def keeps(self, value: float, best: float | None) -> bool:
        """Whether an evaluation scoring ``value`` becomes the kept one: better than ``best``, or tied."""
        if best is None or best != best or ties(value, best):   # nothing kept, a NaN kept, or a tie
            return True
        return value > best if self.greater else value < best


class EarlyStopping(Callback):
    """Stop when the monitored metric has not improved for ``patience`` evaluations."""

    order = 50

    def __init__(self, patience: int):
        self.patience = patience

    def on_evaluate(self, trainer, metrics):
        if trainer.state.evals_without_improvement >= self.patience:
            trainer.request_stop(f"early stopping: {trainer.tracker.name} did not improve for "
                                 f"{self.patience} evaluations")


class Checkpointer(Callback):
    """Checkpoint every ``every_steps`` optimizer steps (if set) and at each epoch end."""

    order = 90

    def __init__(self, every_steps: int | None):
        self.every_steps = every_steps

    def on_step_end(self, trainer):
        if self.every_steps and trainer.state.step % self.every_steps == 0:
            trainer.checkpoint()

    def on_epoch_end(self, trainer):
        trainer.checkpoint()

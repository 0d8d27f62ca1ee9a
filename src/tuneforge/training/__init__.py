"""The training loop and what plugs into it (optimizers, schedules, callbacks, checkpoints)."""
from .callbacks import Callback, Checkpointer, EarlyStopping, MetricTracker
from .optimizers import OPTIMIZERS
from .schedules import SCHEDULERS
from .state import TrainState
from .engine import PlainEngine
from .resolve import Resolved, resolve
from .trainer import Trainer, build_trainer

__all__ = ["Callback", "Checkpointer", "EarlyStopping", "MetricTracker", "OPTIMIZERS", "SCHEDULERS",
           "PlainEngine", "Resolved", "TrainState", "Trainer", "build_trainer", "resolve"]

"""The training loop and what plugs into it (optimizers, schedules, callbacks, checkpoints)."""
from .callbacks import Callback, Checkpointer, EarlyStopping, MetricTracker
from .optimizers import OPTIMIZERS
from .schedules import SCHEDULERS
from .state import TrainState
from .trainer import Trainer

__all__ = ["Callback", "Checkpointer", "EarlyStopping", "MetricTracker", "OPTIMIZERS", "SCHEDULERS",
           "TrainState", "Trainer"]

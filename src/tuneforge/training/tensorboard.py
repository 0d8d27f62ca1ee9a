"""TensorBoard event files for a run: ``tensorboard --logdir runs/`` shows every run side by side.

Logged: ``train/loss`` and ``train/penalty/<regulariser>`` at each optimizer step, ``validation/<metric>`` at each evaluation,
``lr/<block>`` (one curve per block of the layer map) at each evaluation. The writer
comes from ``torch.utils.tensorboard``, which needs the ``tensorboard`` package (a
dependency of tuneforge); when it is missing, :func:`tensorboard_callback` returns None
and the run goes on without event files.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from .callbacks import Callback
from .distributed import is_main_process
from .history import scalar_metrics


class TensorBoardLogger(Callback):
    """Writes scalars into ``log_dir`` (the run folder's ``tensorboard/``)."""

    order = 20

    def __init__(self, log_dir: Path):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(log_dir))

    def on_step_end(self, trainer):
        if trainer.last_loss is not None:
            self.writer.add_scalar("train/loss", trainer.last_loss, trainer.state.step)
        for name, value in trainer.last_penalties.items():
            self.writer.add_scalar(f"train/penalty/{name}", value, trainer.state.step)

    def on_evaluate(self, trainer, metrics):
        step = trainer.state.step
        for name, value in scalar_metrics(metrics).items():
            self.writer.add_scalar(f"validation/{name}", value, step)
        for name, lr in trainer.current_lrs().items():
            if not name.endswith(" (no decay)"):
                self.writer.add_scalar(f"lr/{name}", lr, step)

    def on_train_end(self, trainer):
        self.writer.flush()
        self.writer.close()


def tensorboard_callback(run_dir: Path) -> Optional[TensorBoardLogger]:
    """A logger writing into ``run_dir/tensorboard``, or None when ``tensorboard`` is not installed
    (or in a process other than the main one of a multi-process run, which writes no files)."""
    if not is_main_process():
        return None
    try:
        return TensorBoardLogger(Path(run_dir) / "tensorboard")
    except ImportError:
        return None

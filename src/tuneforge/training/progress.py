"""What the user sees while training: a rich progress bar and one summary line per evaluation."""
from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..terminal import print_segments
from .callbacks import Callback
from .history import scalar_metrics


PREFERRED = ["accuracy", "macro_f1", "log_loss", "r2", "mae", "rmse"]


class ProgressReporter(Callback):
    order = 20

    def __init__(self, console: Console, bar: bool = True):
        self.console, self.bar = console, bar
        self.progress = None

    def on_train_start(self, trainer):
        if self.bar:
            self.progress = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("loss {task.fields[loss]}"), TimeRemainingColumn(),
                                     console=self.console, transient=True)
            self.progress.start()
            self.task = self.progress.add_task("train", total=trainer.total_steps,
                                               completed=trainer.state.step, loss="-")

    def on_step_end(self, trainer):
        if self.progress is not None:
            loss = f"{trainer.last_loss:.4f}" if trainer.last_loss is not None else "-"
            self.progress.update(self.task, completed=trainer.state.step, loss=loss)

    def on_evaluate(self, trainer, metrics):
        s = trainer.state
        scalars = scalar_metrics(metrics)
        first = [trainer.tracker.name] if trainer.tracker is not None else []
        names = list(dict.fromkeys(first + [n for n in PREFERRED if n in scalars]))[:3]
        loss = f"{trainer.last_loss:.4f}" if trainer.last_loss is not None else "-"
        # pieces that never split across lines in a narrow terminal
        shown = [f"{n} {scalars[n]:.4f}" for n in names if n in scalars] or ["-"]
        print_segments(self.console, [f"epoch {s.epoch if s.batch_in_epoch == 0 else s.epoch + 1}/{trainer.epochs}",
                                      f"step {s.step}/{trainer.total_steps}", f"train loss {loss}",
                                      f"validation: {shown[0]}", *shown[1:]])

    def on_train_end(self, trainer):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

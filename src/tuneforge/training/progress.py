"""What the user sees while training: a rich progress bar and one summary line per evaluation."""
from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from .callbacks import Callback
from .history import scalar_metrics


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
        shown = ", ".join(f"{k} {v:.4f}" for k, v in list(scalar_metrics(metrics).items())[:4])
        loss = f"{trainer.last_loss:.4f}" if trainer.last_loss is not None else "-"
        self.console.print(f"epoch {s.epoch if s.batch_in_epoch == 0 else s.epoch + 1}/{trainer.epochs} "
                           f"step {s.step}/{trainer.total_steps}  train loss {loss}  validation: {shown}")

    def on_train_end(self, trainer):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

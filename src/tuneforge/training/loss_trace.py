"""``loss_trace.json``: the training loss of every optimizer step, for the end-of-run diagnostics.

``history.jsonl`` holds one running-mean loss per evaluation (often once per epoch), too coarse
to tell "not falling" or "diverging" in a one-epoch run. This callback records each optimizer
step's mean loss over its micro-batches, derived from the trainer's running epoch sums so the
trainer needs no change. It rewrites the file at each epoch end and at the end of training; a
resumed run reloads it and drops steps past the checkpoint it resumed from.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from .callbacks import Callback


class LossTrace(Callback):
    order = 11

    def __init__(self, path: Optional[Path]):
        self.path = path
        self.steps: list[int] = []
        self.losses: list[float] = []
        self._sum, self._n = 0.0, 0

    def on_train_start(self, trainer):
        s = trainer.state
        if self.path is not None and self.path.is_file() and s.step > 0:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            keep = [i for i, step in enumerate(saved.get("steps", [])) if step <= s.step]
            self.steps = [saved["steps"][i] for i in keep]
            self.losses = [saved["loss"][i] for i in keep]
        self._sum, self._n = s.loss_sum, s.loss_n

    def on_step_end(self, trainer):
        s = trainer.state
        if s.loss_n < self._n:  # a new epoch reset the running sums
            self._sum, self._n = 0.0, 0
        n = s.loss_n - self._n
        if n > 0:
            self.steps.append(int(s.step))
            self.losses.append((s.loss_sum - self._sum) / n)
        self._sum, self._n = s.loss_sum, s.loss_n

    def on_epoch_end(self, trainer):
        self._sum, self._n = 0.0, 0   # the next epoch starts from zero sums
        self._write(trainer)

    def on_train_end(self, trainer):
        self._write(trainer)

    def _write(self, trainer):
        if self.path is None or not trainer.accelerator.is_main_process:
            return
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps({"steps": self.steps, "loss": self.losses}), encoding="utf-8")
        tmp.replace(self.path)

"""``loss_trace.jsonl``: the training loss of every optimizer step, for the end-of-run diagnostics.

``history.jsonl`` holds one running-mean loss per evaluation (often once per epoch), too coarse
to tell "not falling" or "diverging" in a one-epoch run. This callback appends one line
``{"step": n, "loss": x}`` per optimizer step: the mean loss over the step's micro-batches (task loss
plus penalties), derived from the trainer's running epoch sums; with regularisers, ``"penalties":
{name: value}`` adds each one's penalty in that step (already multiplied by its weight), so the task
loss is ``loss - sum(penalties)``. A resumed run first cuts
the file back to the step of the checkpoint it resumed from, so a killed and resumed run ends
with the same trace as one never interrupted.
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
        if self.path is not None and self.path.is_file():
            records = [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]
            records = [r for r in records if r["step"] <= s.step]
            self.steps, self.losses = [r["step"] for r in records], [r["loss"] for r in records]
            if trainer.accelerator.is_main_process:
                self.path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        self._sum, self._n = s.loss_sum, s.loss_n

    def on_step_end(self, trainer):
        s = trainer.state
        if s.loss_n < self._n:  # a new epoch reset the running sums
            self._sum, self._n = 0.0, 0
        n = s.loss_n - self._n
        self._sum, self._n, before = s.loss_sum, s.loss_n, self._sum
        if n <= 0:
            return
        loss = (s.loss_sum - before) / n
        self.steps.append(int(s.step))
        self.losses.append(loss)
        if self.path is not None and trainer.accelerator.is_main_process:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"step": int(s.step), "loss": loss,
                                    **({"penalties": trainer.last_penalties} if trainer.last_penalties else {})})
                        + "\n")

    def on_epoch_end(self, trainer):
        self._sum, self._n = 0.0, 0   # the next epoch starts from zero sums

"""``history.jsonl``: one line per evaluation with the train loss, validation metrics and learning rates
(and, with regularisers, each one's penalty in the last optimizer step)."""
from __future__ import annotations

import json
from pathlib import Path

from .callbacks import Callback


def scalar_metrics(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float))}


class HistoryWriter(Callback):
    order = 10

    def __init__(self, path: Path | None):
        self.path = path
        self.records: list[dict] = []

    def on_train_start(self, trainer):
        if self.path is not None and self.path.is_file():  # a resumed run: keep what was written
            self.records = [json.loads(l) for l in self.path.read_text().splitlines() if l]

    def on_evaluate(self, trainer, metrics):
        s = trainer.state
        record = {"epoch": s.epoch if s.batch_in_epoch == 0 else s.epoch + s.batch_in_epoch / trainer.n_batches,
                  "step": s.step, "stage": trainer.plan.stages[trainer._stage].name,
                  "train_loss": trainer.last_loss, "validation": scalar_metrics(metrics),
                  "lr": _block_lrs(trainer), "seconds": round(s.seconds, 3),
                  **({"penalties": trainer.last_penalties} if trainer.last_penalties else {})}
        self.records.append(record)
        if self.path is not None and trainer.accelerator.is_main_process:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")


def _block_lrs(trainer) -> dict:
    """Learning rate of each group (decayed and non-decayed groups of a block share one)."""
    return {name.removesuffix(" (no decay)"): lr for name, lr in trainer.current_lrs().items()}

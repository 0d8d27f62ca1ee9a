"""The trainer's progress: everything besides tensors that a checkpoint must hold to resume exactly."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional


@dataclass
class TrainState:
    step: int = 0                    # optimizer steps done
    epoch: int = 0                   # current epoch (0-based)
    batch_in_epoch: int = 0          # next micro-batch to run in this epoch
    best_value: Optional[float] = None   # the kept evaluation's monitored value (ties go to the later one)
    best_step: Optional[int] = None      # its step: the weights train.restore_best ends with
    improved_value: Optional[float] = None   # the last value that beat the one before by > min_delta (patience)
    evals_without_improvement: int = 0
    seconds: float = 0.0             # training time so far (across resumes)
    samples: int = 0                 # training examples seen
    tokens: int = 0                  # real (non-padding) tokens seen, text tasks
    skipped_batches: int = 0         # batches skipped for a non-finite loss or gradient (train.nonfinite: skip)
    stage_seconds: dict = field(default_factory=dict)
    loss_sum: float = 0.0            # running train loss of the current epoch (so a resume continues it)
    loss_n: int = 0
    stop_reason: Optional[str] = None
    privacy: Optional[dict] = None   # the privacy accountant's history (recipe privacy:), see privacy/engine.py

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainState":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

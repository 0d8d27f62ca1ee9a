"""Tasks: what is predicted (classes or a number) from what (text or images).

A task knows its modality, its loss, how targets are prepared for training
(regression targets are standardised with the training mean and std) and which
validation metric it monitors by default.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from ..registry import Registry

TASKS: Registry["Task"] = Registry("task")


@dataclass(frozen=True)
class Task:
    name: str
    modality: Literal["text", "image"]
    kind: Literal["classification", "regression"]

    @property
    def classification(self) -> bool:
        return self.kind == "classification"

    def num_outputs(self, num_classes: int | None) -> int:
        return int(num_classes) if self.classification else 1

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.classification:
            return F.cross_entropy(outputs.float(), targets)
        return F.mse_loss(outputs.float().squeeze(-1), targets.float())

    def default_metric(self) -> str:
        return "macro_f1" if self.classification else "r2"


@dataclass(frozen=True)
class TargetScaler:
    """Regression targets are trained standardised and reported in original units."""

    mean: float = 0.0
    std: float = 1.0

    @classmethod
    def fit(cls, targets: np.ndarray) -> "TargetScaler":
        std = float(np.std(targets))
        return cls(float(np.mean(targets)), std if std > 1e-12 else 1.0)

    def transform(self, y: np.ndarray) -> np.ndarray:
        return ((y - self.mean) / self.std).astype(np.float32)

    def inverse(self, y: np.ndarray) -> np.ndarray:
        return y * self.std + self.mean


for _name, _mod, _kind, _doc in [
    ("text-classification", "text", "classification", "assign one of K classes to a text"),
    ("image-classification", "image", "classification", "assign one of K classes to an image"),
    ("text-regression", "text", "regression", "predict a number from a text"),
    ("image-regression", "image", "regression", "predict a number from an image"),
]:
    TASKS.register(_name, _doc)(Task(_name, _mod, _kind))

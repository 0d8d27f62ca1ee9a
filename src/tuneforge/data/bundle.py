"""What the data layer hands to the rest of tuneforge: cleaned, split, ready-to-batch data."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional, Union

import numpy as np
import torch

Modality = Literal["text", "image", "audio"]


@dataclass
class Split:
    """One split of a data set.

    ``inputs`` is a list of strings for text, or a uint8 tensor ``N x C x H x W``
    (C = 1 or 3, all images already decoded at one common size) for images, or
    :class:`~tuneforge.data.audio.Clips` (mono waveforms at one rate) for audio.
    ``targets`` holds int64 class ids for classification, float32 values for regression.
    """

    inputs: Union[list, torch.Tensor]
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.targets)

    def subset(self, indices) -> "Split":
        indices = np.asarray(indices, dtype=np.int64)
        if isinstance(self.inputs, torch.Tensor):
            inputs = self.inputs[torch.from_numpy(indices)]
        elif hasattr(self.inputs, "subset"):  # audio Clips
            inputs = self.inputs.subset(indices)
        else:
            inputs = [self.inputs[i] for i in indices]
            if type(self.inputs) is not list:  # keep a list subclass (word sequences) what it is
                inputs = type(self.inputs)(inputs)
        return Split(inputs, self.targets[indices])


@dataclass
class CleaningReport:
    """What cleaning removed from one source file, and why."""

    source: str
    rows_read: int
    dropped: dict[str, int] = field(default_factory=dict)   # reason -> rows
    filled: dict[str, int] = field(default_factory=dict)    # reason -> rows

    @property
    def rows_kept(self) -> int:
        return self.rows_read - sum(self.dropped.values())

    def summary(self) -> str:
        parts = [f"{n} {reason}" for reason, n in self.dropped.items() if n]
        parts += [f"{n} {reason} (filled)" for reason, n in self.filled.items() if n]
        detail = f" (dropped {', '.join(parts)})" if parts else ""
        return f"{self.source}: {self.rows_read} rows read, {self.rows_kept} kept{detail}"

    def to_dict(self) -> dict:
        return {"source": self.source, "rows_read": self.rows_read, "rows_kept": self.rows_kept,
                "dropped": dict(self.dropped), "filled": dict(self.filled)}


@dataclass
class DataBundle:
    """Train / validation / test splits plus what is known about them."""

    modality: Modality
    train: Split
    validation: Optional[Split]
    test: Optional[Split]
    label_names: Optional[list[str]] = None          # classification: class id -> name
    cleaning: list[CleaningReport] = field(default_factory=list)
    description: dict = field(default_factory=dict)  # source names, sizes, split method

    @property
    def num_classes(self) -> Optional[int]:
        return None if self.label_names is None else len(self.label_names)

    def sizes(self) -> dict[str, int]:
        return {name: len(s) for name, s in
                (("train", self.train), ("validation", self.validation), ("test", self.test)) if s is not None}

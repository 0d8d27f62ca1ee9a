"""A toy model and data set for fast trainer and strategy tests (no transformers, no timm).

The toy network is an MLP with a BatchNorm in its first block, mapped as
``stem -> block.0 -> block.1 -> head`` like a real model's layer map.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tuneforge.models.layer_map import Block, LayerMap
from tuneforge.models.task_model import TaskModel
from tuneforge.training import Callback


class ToyNet(nn.Module):
    def __init__(self, d_in=8, d=16, k=3):
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(d_in, d), nn.BatchNorm1d(d), nn.ReLU())
        self.block = nn.ModuleList([nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Dropout(0.1)) for _ in range(2)])
        self.head = nn.Linear(d, k)

    def forward(self, x):
        x = self.stem(x)
        for b in self.block:
            x = x + b(x)
        return self.head(x)


def toy_layer_map(net: ToyNet) -> LayerMap:
    blocks = []
    for name in ["stem", "block.0", "block.1", "head"]:
        params = [f"{name}.{p}" for p, _ in net.get_submodule(name).named_parameters()]
        blocks.append(Block(name, params, [name]))
    return LayerMap("toy", blocks)


def toy_model(k=3, seed=0) -> TaskModel:
    torch.manual_seed(seed)
    net = ToyNet(k=k)
    return TaskModel(net, toy_layer_map(net), kind="timm", modality="image", preprocessor=None,
                     source="toy", num_outputs=k, head_linear="head")


class ToySplit:
    """Stands in for data.encode.EncodedSplit: fixed features, batches by index."""

    lengths = None

    def __init__(self, n=96, k=3, seed=0, regression=False):
        rng = np.random.default_rng(seed)
        self.x = torch.tensor(rng.normal(size=(n, 8)), dtype=torch.float32)
        w = rng.normal(size=(8, k))
        scores = self.x.numpy() @ w
        self.y = (scores[:, 0] if regression else scores.argmax(1))
        self.regression = regression

    def __len__(self):
        return len(self.y)

    @property
    def targets(self) -> np.ndarray:
        return np.asarray(self.y)

    def batch(self, indices, train=False, generator=None):
        idx = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        y = torch.tensor(self.y[np.asarray(indices)], dtype=torch.float32 if self.regression else torch.long)
        return {"pixel_values": self.x[idx], "targets": y}


class Crash(Callback):
    """Simulates a killed run: interrupts training right after optimizer step ``at`` (and its checkpoint)."""

    order = 100  # after the checkpointer

    def __init__(self, at):
        self.at = at

    def on_step_end(self, trainer):
        if trainer.state.step == self.at:
            raise KeyboardInterrupt

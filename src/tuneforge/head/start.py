"""Start training from a solved head: check it can be done exactly, gather the head's inputs, write it.

The solver (``head/solver.py``) needs the exact inputs of the head's last linear layer
(``model.head_linear()``) in eval mode. They are captured with a forward pre-hook on that
layer, so they are right by construction. The pipeline already extracted the frozen features
(``model.features``) for the baseline; when those equal the head's inputs (checked on a few
training examples) it hands them over instead of running the model again.

A head cannot be solved exactly when the model has no known last linear layer (or it has no
bias), when the task has no convex head problem, or when layers sit between the features and
that last linear layer (a hidden layer, a pooler) - then the strategy falls back to SGD and
the plan says why.

Example::

    ok, why, shared = head_solvability(model, task, train_split)
    solved = solve_model_head(model, task, HeadData(train=(x, y), validation=(vx, vy)))
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from torch import nn

from .solver import SolvedHead, SolverKind, solve_head

CHECK_EXAMPLES = 8


@dataclass
class HeadData:
    """The head's inputs and training targets: ``train=(x [N, D], y)``, ``validation`` likewise or None."""

    train: tuple[np.ndarray, np.ndarray]
    validation: Optional[tuple[np.ndarray, np.ndarray]] = None


def solver_kind(task) -> Optional[SolverKind]:
    """The convex problem of this task's head (``Task.probe_kind``: softmax, sigmoid or ridge), or None."""
    kind = task.probe_kind
    return kind if kind in ("softmax", "sigmoid", "ridge") else None


def head_linears(model) -> list[nn.Linear]:
    """The last linear layer of the head; under a peft adapter, the copy peft trains and saves
    (the original stays as loaded; merging replaces it by the copy)."""
    module = model.net.get_submodule(model.head_linear_name)
    copies = getattr(module, "modules_to_save", None)
    if copies is not None:
        return [copies[k] for k in copies]
    return [module]


@torch.no_grad()
def captured_inputs(model, batch: dict) -> torch.Tensor:
    """The input of the head's last linear layer for ``batch`` (model in eval mode, restored after)."""
    module = model.net.get_submodule(model.head_linear_name)
    seen = []
    hook = module.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach()))
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        model(batch)
    finally:
        hook.remove()
        for m, was in modes.items():
            m.train(was)
    x = seen[-1].float()
    return x if x.ndim == 3 else x.reshape(len(x), -1)   # [B, T, D]: a per-token head (token classification)


def head_solvability(model, task, split, device="cpu") -> tuple[bool, str, bool]:
    """``(solvable, why not, features are the head's inputs)`` for ``model`` on a few rows of ``split``."""
    if not model.new_head:
        return False, ("the model keeps its pre-trained head (a causal LM's LM head, tied to the input "
                       "embeddings): there is no new head to solve or warm up"), False
    if model.head_linear_name is None:
        return False, "the model has no known last linear layer", False
    if solver_kind(task) is None:
        return False, f"task {getattr(task, 'name', '?')!r} has no convex head problem", False
    lins = head_linears(model)
    if not all(isinstance(m, nn.Linear) and m.bias is not None for m in lins):
        return False, "the head's last layer is not a linear layer with a bias", False
    batch = _to(split.batch(np.arange(min(CHECK_EXAMPLES, len(split))), train=False), device)
    inputs = captured_inputs(model, batch)
    try:
        modes = {m: m.training for m in model.modules()}
        model.eval()
        feats = model.features(batch).float()
        for m, was in modes.items():
            m.train(was)
        shared = feats.shape == inputs.shape and torch.allclose(feats, inputs, rtol=1e-4, atol=1e-4)
    except Exception:  # a model without the features contract (toy models, exotic heads)
        shared = False
    head = model.layer_map.blocks[model.layer_map.head_index]
    others = [p for p in head.params if not p.startswith(model.head_linear_name + ".")]
    if others and not shared:
        return False, (f"layers sit between the features and the head's last linear layer ({others[0]}...): "
                       f"solving the last layer alone would leave them untrained"), False
    return True, "", shared


@torch.no_grad()
def head_inputs(model, split, batch_size: int, device="cpu") -> tuple[np.ndarray, np.ndarray]:
    """The head's inputs ``[N, D]`` and targets for every row of ``split``, in order."""
    xs, ys = [], []
    per_example = getattr(split, "per_example", None)   # per-token inputs -> one row per word
    for start in range(0, len(split), batch_size):
        batch = _to(split.batch(np.arange(start, min(start + batch_size, len(split))), train=False), device)
        x, y = captured_inputs(model, batch), batch["targets"]
        if per_example is not None:
            x, y = per_example(batch, x), per_example(batch, y)
        xs.append(x.cpu().numpy())
        ys.append(y.cpu().numpy())
    return np.concatenate(xs), np.concatenate(ys)


@torch.no_grad()
def solve_model_head(model, task, data: HeadData, seed: int = 0, scaling: str = "feature",
                     warm_start: bool = False) -> SolvedHead:
    """Solve the head on ``data`` and write it into the model's last linear layer.

    ``scaling``: ``"feature"`` for a head that stays as solved (a linear probe), ``"none"``
    for a warm start that fine-tuning continues from (see :mod:`.head_solver`); ``warm_start``:
    solve to the looser tolerance such a start needs."""
    train = task.head_rows(*data.train)   # a per-token task: one row per word
    validation = task.head_rows(*data.validation) if data.validation is not None else None
    solved = solve_head(solver_kind(task), train[0], train[1], validation=validation,
                        num_outputs=model.num_outputs, seed=seed, scaling=scaling, warm_start=warm_start)
    for lin in head_linears(model):
        lin.weight.copy_(solved.weight.reshape(lin.weight.shape).to(lin.weight.dtype))
        lin.bias.copy_(solved.bias.reshape(lin.bias.shape).to(lin.bias.dtype))
    return solved


def _to(batch: dict, device) -> dict:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}

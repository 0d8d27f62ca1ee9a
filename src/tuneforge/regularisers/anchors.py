"""Which parameters a regulariser anchors to their pre-trained values, and snapshots of them.

Anchored: every parameter of the pre-trained network, except the new task head (it has no
pre-trained value) and parameters an adapter method added (they start from their own
initialisation, not from pre-training). The penalty then only counts the anchored
parameters that currently train.
"""
from __future__ import annotations

import torch

from ..strategies.param_groups import param_kind


def anchored_names(model) -> list[str]:
    """Names (in ``model.net``) of the pre-trained parameters, input first."""
    head = model.head_linear_name
    out = []
    for name, _ in model.net.named_parameters():
        if param_kind(name) != "base" or ".original_module." in name:
            continue
        if head is not None and (name.startswith(head + ".")):
            continue
        out.append(name)
    return out


def snapshot(model, names: list[str]) -> dict[str, torch.Tensor]:
    """Detached copies of the named parameters of ``model.net``."""
    params = dict(model.net.named_parameters())
    return {n: params[n].detach().clone() for n in names}


def on_device(tensors: dict[str, torch.Tensor], like: torch.Tensor) -> dict[str, torch.Tensor]:
    """``tensors`` moved to the device of ``like`` (a no-op when they are there already)."""
    first = next(iter(tensors.values()), None)
    if first is None or first.device == like.device:
        return tensors
    return {k: v.to(like.device) for k, v in tensors.items()}


def weighted_distance(model, anchors: dict[str, torch.Tensor], weights=None) -> torch.Tensor:
    """``sum F * (w - w0)^2`` over anchored parameters that train (``F`` = 1 without ``weights``)."""
    total = None
    for name, param in model.net.named_parameters():
        if not param.requires_grad or name not in anchors:
            continue
        d = (param - anchors[name]).pow(2)
        term = (d * weights[name]).sum() if weights is not None else d.sum()
        total = term if total is None else total + term
    if total is None:
        return torch.zeros((), device=next(model.net.parameters()).device)
    return total

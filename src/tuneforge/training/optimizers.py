"""Optimizers, built once from all parameter groups (frozen ones included)."""
from __future__ import annotations

import torch

from ..registry import Registry
from ..strategies.param_groups import ParamGroup

OPTIMIZERS = Registry("optimizer")


def _torch_groups(groups: list[ParamGroup], weight_decay: float) -> list[dict]:
    return [{"params": g.params, "weight_decay": weight_decay if g.decay else 0.0, "name": g.name}
            for g in groups]


def _fused_ok(groups) -> bool:
    """torch's fused AdamW (one kernel for all tensors) runs on CPU and CUDA floating-point tensors."""
    params = [p for g in groups for p in g.params]
    return bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)


@OPTIMIZERS.register("adamw", "AdamW with decoupled weight decay (fused kernel)")
def adamw(groups, cfg):
    return torch.optim.AdamW(_torch_groups(groups, cfg.weight_decay), lr=cfg.lr, betas=tuple(cfg.betas),
                             fused=_fused_ok(groups))


@OPTIMIZERS.register("sgd", "SGD with (Nesterov) momentum")
def sgd(groups, cfg):
    return torch.optim.SGD(_torch_groups(groups, cfg.weight_decay), lr=cfg.lr, momentum=cfg.momentum,
                           nesterov=cfg.momentum > 0)


@OPTIMIZERS.register("rmsprop", "RMSprop with momentum")
def rmsprop(groups, cfg):
    return torch.optim.RMSprop(_torch_groups(groups, cfg.weight_decay), lr=cfg.lr, momentum=cfg.momentum)


def build_optimizer(groups: list[ParamGroup], cfg) -> torch.optim.Optimizer:
    return OPTIMIZERS.get(cfg.name)(groups, cfg)

"""The parameters that travel between server and clients: exactly those the strategy trains.

Names and shapes are fixed when the run starts (the strategy's single stage); frozen
parameters never leave a client. A client refuses arrays whose names or shapes differ from
its own trainable set, and checks a digest of its frozen parameters against the server's, so
that a client built from another model (or another recipe) fails loudly instead of averaging
nonsense.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch
from flwr.app import Array, ArrayRecord

from ..errors import TrainingError


def trainable_by_stage(trainer) -> list[frozenset[str]]:
    """Per stage of the trainer's plan: names (in ``model.net``) of the parameters it trains."""
    names = {id(p): n for n, p in trainer.unwrapped.net.named_parameters()}
    return [frozenset(names[id(p)] for g in trainer.groups if stage.settings(g)[0] for p in g.params)
            for stage in trainer.plan.stages]


def ordered(model, names) -> list[str]:
    """``names`` in the model's own parameter order (input first), so records line up everywhere."""
    wanted = set(names)
    return [n for n, _ in model.net.named_parameters() if n in wanted]


def to_record(model, names: list[str]) -> ArrayRecord:
    """The named parameters of ``model.net`` as a Flower ``ArrayRecord`` (float32 numpy copies)."""
    params = dict(model.net.named_parameters())
    return ArrayRecord({n: Array(params[n].detach().float().cpu().numpy()) for n in names})


def load_record(model, record: ArrayRecord, names: list[str]) -> None:
    """Copy ``record`` into the named parameters, after checking that names and shapes match."""
    got = list(record.keys())
    if got != list(names):
        missing, extra = sorted(set(names) - set(got)), sorted(set(got) - set(names))
        raise TrainingError(f"the global parameters do not match this client's trainable set (missing "
                            f"{missing[:3]}, unexpected {extra[:3]}): server and client built different "
                            "models or strategies")
    params = dict(model.net.named_parameters())
    with torch.no_grad():
        for n in names:
            value = record[n].numpy()
            if tuple(value.shape) != tuple(params[n].shape):
                raise TrainingError(f"parameter {n}: the server sent shape {tuple(value.shape)}, this client's "
                                    f"model has {tuple(params[n].shape)}")
            params[n].copy_(torch.from_numpy(np.ascontiguousarray(value)).to(params[n].dtype))


def frozen_digest(model, trainable: set[str]) -> str:
    """A short hash of every parameter that does not travel: equal on server and clients when they
    built the same starting model."""
    h = hashlib.blake2b(digest_size=12)
    for n, p in model.net.named_parameters():
        if n not in trainable:
            h.update(n.encode())
            h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()

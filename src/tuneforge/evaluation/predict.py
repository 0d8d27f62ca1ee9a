"""Run a model over a whole encoded split and keep only what evaluation needs.

Batches are formed length-sorted (padding is cut, so inference is faster) and the
results are written back into the split's original example order. Only logits or
pooled features leave the loop, as float32 numpy arrays; hidden states never pile up.

Example::

    logits = predict_outputs(model, encoded_test, batch_size=128)        # [N, K]
    feats, targets = extract_features(model, encoded_train, batch_size=128)
"""
from __future__ import annotations

import contextlib
from typing import Callable, Optional, Union

import numpy as np
import torch
from torch import nn
from ..data.encode import batch_order

Device = Union[torch.device, str]


def predict_outputs(model: nn.Module, encoded, batch_size: int, device: Device = "cpu",
                    autocast_dtype: Optional[torch.dtype] = None, rows: Optional[np.ndarray] = None) -> np.ndarray:
    """Model outputs for every example of ``encoded`` (or only ``rows`` of it), in its original order.

    Returns float32 logits ``[N, K]``; a model with a single output (regression)
    gives ``[N]``. The model runs in eval mode under ``torch.inference_mode()`` and
    each module's previous train/eval mode is restored afterwards. With
    ``autocast_dtype`` (e.g. ``torch.bfloat16``) the forward pass runs under
    ``torch.autocast``; outputs are still returned as float32.
    """
    if rows is not None:
        encoded = _Rows(encoded, np.asarray(rows, dtype=np.int64))
    (outputs,) = _run_in_order(model, encoded, batch_size, device, autocast_dtype, 1,
                               lambda batch: (model(batch),))
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        outputs = outputs[:, 0]
    return outputs


def extract_features(model: nn.Module, encoded, batch_size: int, device: Device = "cpu",
                     autocast_dtype: Optional[torch.dtype] = None) -> tuple[np.ndarray, np.ndarray]:
    """Pooled backbone features ``[N, D]`` (float32) and the targets, in original order.

    Uses ``model.features(batch)``; the features feed the linear-probe baseline.
    Targets keep their dtype (int64 class ids or float32 values).
    """
    return _run_in_order(model, encoded, batch_size, device, autocast_dtype, 2,
                         lambda batch: (model.features(batch), batch["targets"]))


class _Rows:
    """Some rows of an encoded split, seen as a split of their own (in the order given)."""

    def __init__(self, encoded, rows: np.ndarray):
        self.encoded, self.rows = encoded, rows
        lengths = getattr(encoded, "lengths", None)
        self.lengths = None if lengths is None else np.asarray(lengths)[rows]
        self.per_example = getattr(encoded, "per_example", None)

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self, indices, train: bool = False) -> dict:
        return self.encoded.batch(self.rows[np.asarray(indices, dtype=np.int64)], train=train)


def _batch_order(n: int, batch_size: int, lengths: Optional[np.ndarray]) -> list[np.ndarray]:
    """Deterministic, length-grouped batches (imported lazily: features alone need no data layer)."""

    return batch_order(n, batch_size, seed=0, epoch=0, shuffle=False, lengths=lengths)


def _run_in_order(model: nn.Module, encoded, batch_size: int, device: Device,
                  autocast_dtype: Optional[torch.dtype], n_results: int,
                  step: Callable[[dict], tuple[torch.Tensor, ...]]) -> tuple[np.ndarray, ...]:
    """Apply ``step`` to every batch and scatter its ``n_results`` tensors back to example order."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    device = torch.device(device)
    n = len(encoded)
    results: Optional[list[np.ndarray]] = None
    seen = np.zeros(n, dtype=bool)
    modes = {module: module.training for module in model.modules()}
    autocast = (torch.autocast(device_type=device.type, dtype=autocast_dtype)
                if autocast_dtype is not None else contextlib.nullcontext())
    per_example = getattr(encoded, "per_example", None)  # per-position outputs -> per example (token tasks)
    model.eval()
    try:
        with torch.inference_mode(), autocast:
            for indices in _batch_order(n, batch_size, getattr(encoded, "lengths", None)):
                indices = np.asarray(indices, dtype=np.int64)
                batch = {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
                         for k, v in encoded.batch(indices, train=False).items()}
                arrays = [_to_numpy(per_example(batch, t) if per_example else t) for t in step(batch)]
                if results is None:
                    results = [np.empty((n,) + a.shape[1:], dtype=a.dtype) for a in arrays]
                for out, a in zip(results, arrays):
                    out[indices] = a
                seen[indices] = True
    finally:
        for module, was_training in modes.items():
            module.train(was_training)
    if not seen.all():
        raise RuntimeError(f"batch_order left {int((~seen).sum())} of {n} examples out")
    if results is None:   # an empty split
        return tuple(np.empty((0,), dtype=np.float32) for _ in range(n_results))
    return tuple(results)


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    """Detach to CPU numpy; floating tensors (bf16 included) become float32."""
    t = t.detach()
    if t.is_floating_point():
        t = t.float()
    return t.cpu().numpy()

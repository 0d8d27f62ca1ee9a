"""Find how to cache the bottom blocks of a model, and check it on a few examples before training.

:func:`find_cache_point` runs a handful of training examples (shortest to longest, so the batch
has padding) through the model in eval mode, watching the order in which modules start and end.
The cache point is the last frozen module to finish; narrower choices are tried first, and each
is kept only if replaying it from a recording gives the model's own outputs:

- ``pool``: a parameter-free ``global_pool`` (timm) that runs after the frozen modules and before
  anything that trains: only the pooled features are stored;
- ``token0``: the first token of a ``[B, T, D]`` output (the BERT pooler, RoBERTa's and ViT's
  heads read nothing else);
- ``rows`` (text: the real tokens of each example) or ``fixed`` (images: the whole output).

It refuses, with the reason, models where a module that trains or that draws random numbers runs
before the frozen modules finish, a frozen module runs twice, or nothing reproduces the outputs
(a frozen output used elsewhere, e.g. by a skip connection around the cache point).

Example::

    point, why = find_cache_point(model, encoded_train, k=3, device="cpu")
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import nn

from .replay import CachePoint, Segment

PROBE_EXAMPLES = 4
PROBE_ATOL, PROBE_RTOL = 1e-5, 1e-4


def find_cache_point(model, data, k: int, device) -> tuple[Optional[CachePoint], str]:
    """How to cache the bottom ``k`` blocks of ``model`` (a TaskModel): (point, "") or (None, why)."""
    net, blocks = model.net, model.layer_map.blocks
    frozen = {m for b in blocks[:k] for m in b.modules}
    later = {m for b in blocks[k:] for m in b.modules}
    roots = [m for m in frozen if not any(a in frozen for a in _ancestors(m)[1:])]
    names = ", ".join(b.name for b in blocks[:k])
    if not roots:
        return None, f"blocks {names} have no modules"
    for b in blocks[k:]:
        for p in b.params:
            if not any(a in later for a in _ancestors(p)):
                return None, f"parameter {p} of block {b.name} is used outside the block's modules"
    idx = _probe_indices(data)
    batch = {key: v.to(device) for key, v in data.batch(idx, train=False).items()}
    width = batch["input_ids"].shape[1] if "input_ids" in batch else None
    modes = {m: m.training for m in net.modules()}
    net.eval()
    try:
        with torch.no_grad():
            calls, outputs = _trace(net, lambda: model(batch))
            ref = model(batch)
            starts = {n: i for i, (ev, n) in reversed(list(enumerate(calls))) if ev == "start"}
            ends = {n: i for i, (ev, n) in enumerate(calls) if ev == "end"}
            for r in roots:
                runs = sum(1 for ev, n in calls if ev == "start" and n == r)
                if runs != 1:
                    return None, f"module {r} runs {runs} times in one forward pass"
            point = max(roots, key=ends.get)
            cut = ends[point]
            early = [n for n in later if starts.get(n, cut) < cut]
            if early:
                return None, f"{early[0]}, which trains, runs before the frozen blocks ({names}) finish"
            for n, m in net.named_modules():
                if n and starts.get(n, cut) < cut and not any(a in frozen for a in _ancestors(n)) and _random(m):
                    return None, f"{n} draws random numbers before the frozen blocks ({names}) finish"
            templates = {}
            for r in roots:
                templates[r] = _template(outputs[r], width)
                if templates[r] is None:
                    return None, f"module {r} returns {type(outputs[r]).__name__}, which the cache cannot replace"
            for name, kind in _candidates(outputs, point, cut, starts, ends, later, width, len(calls)):
                templates[name] = _template(outputs[name], width)
                trial = CachePoint(k, sorted(roots), name, kind, templates)
                if _replays(model, data, trial, batch, idx, width, ref, device):
                    return trial, ""
            return None, f"replaying {point} does not reproduce the model's outputs (a frozen output is used elsewhere)"
    finally:
        for m, was in modes.items():
            m.train(was)


def _candidates(outputs, point, cut, starts, ends, later, width, n_calls) -> list[tuple[str, str]]:
    """(module, kind) choices for the cache point, narrowest first."""
    first_later = min((starts[n] for n in later if n in starts), default=n_calls)
    out = [(n, "pool") for n in outputs if n.rsplit(".", 1)[-1] == "global_pool"
           and cut < starts[n] and ends[n] < first_later and _template(outputs[n], None)]
    x = outputs[point][0] if isinstance(outputs[point], (tuple, list)) else outputs[point]
    if x.ndim == 3:
        out.append((point, "token0"))
    if width is None:
        out.append((point, "fixed"))
    elif x.ndim >= 2 and x.shape[1] == width:
        out.append((point, "rows"))
    return out


def _probe_indices(data) -> np.ndarray:
    n = len(data)
    lengths = getattr(data, "lengths", None)
    if lengths is None:
        return np.arange(min(PROBE_EXAMPLES, n))
    order = np.argsort(lengths, kind="stable")  # shortest to longest: the probe batch has padding
    return np.unique(order[np.linspace(0, n - 1, min(PROBE_EXAMPLES, n)).astype(int)])


def _replays(model, data, point: CachePoint, batch: dict, idx: np.ndarray, width, ref: torch.Tensor,
             device) -> bool:
    """Record ``point`` on the probe batch, replay it in reverse order: the same outputs?"""
    counts = np.asarray(data.lengths)[idx] if width is not None else np.ones(len(idx), dtype=np.int64)
    segment = Segment(model.net, point, counts, device)
    local = np.arange(len(idx))
    try:
        with segment.feeding(local, width, replay=False):
            model(batch)
        with segment.feeding(local[::-1].copy(), width, replay=True):
            got = model({key: v.flip(0) for key, v in batch.items()})
        return bool(torch.allclose(got.flip(0).float(), ref.float(), atol=PROBE_ATOL, rtol=PROBE_RTOL))
    except (RuntimeError, ValueError, IndexError, TypeError):  # a placeholder the model could not take
        return False
    finally:
        segment.close()


def _ancestors(name: str) -> list[str]:
    """'a.b.c' -> ['a.b.c', 'a.b', 'a'] (a name counts as its own ancestor)."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def _random(module: nn.Module) -> bool:
    if isinstance(module, nn.modules.dropout._DropoutNd):
        return module.p > 0
    return float(getattr(module, "drop_prob", 0.0) or 0.0) > 0  # timm DropPath


def _template(output, width: Optional[int]):
    """(is_tuple, length, shape with "B"/"L" for batch size and text width, dtype), or None if unsupported."""
    is_tuple = isinstance(output, (tuple, list))
    x = output[0] if is_tuple and output else output
    if not isinstance(x, torch.Tensor) or x.ndim == 0 or (is_tuple and any(o is not None for o in output[1:])):
        return None
    shape = ["B"] + list(x.shape[1:])
    if width is not None and x.ndim >= 2 and x.shape[1] == width:
        shape[1] = "L"
    return is_tuple, len(output) if is_tuple else 1, shape, x.dtype


def _trace(net: nn.Module, run) -> tuple[list[tuple[str, str]], dict]:
    """Run ``run()``; return the order in which modules start and end, and every module's output."""
    calls, outputs, handles = [], {}, []
    for name, m in net.named_modules():
        if not name:
            continue
        handles.append(m.register_forward_pre_hook(lambda _m, _a, n=name: calls.append(("start", n))))

        def end(_m, _a, out, n=name):
            calls.append(("end", n))
            outputs[n] = out
        handles.append(m.register_forward_hook(end))
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return calls, outputs

"""The mechanism of the frozen-prefix cache: record a module's output per example, then stand in for
the frozen modules.

A :class:`CachePoint` says how the bottom ``k`` blocks are cached: which modules (``roots``, the
outermost modules of those blocks) stop running, and which module's output (``point``) is recorded
and replayed. A :class:`Segment` puts that in place on a network: it replaces the ``forward`` of each
of those modules by one that, while replaying, returns a placeholder (a zero expanded to the right
shape: no memory, no compute) or, for the cache point, the recorded outputs of the batch's examples;
at any other time the module's own forward runs. A forward hook on the cache point records.

Example::

    segment = Segment(net, point, counts=lengths, device="cpu")
    with segment.feeding(batch_indices, width, replay=False):
        model(batch)                      # runs everything, records the cache point's output
    with segment.feeding(batch_indices, width, replay=True):
        model(batch)                      # the frozen modules do not run
    segment.close()                       # the modules get their own forward back
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
from torch import nn

from .store import RowStore

# what is stored per example, by kind of cache point
WHAT = {"rows": "the real tokens", "token0": "the first token", "pool": "the pooled features",
        "fixed": "the output"}


@dataclass
class CachePoint:
    """How a prefix of ``k`` blocks is cached."""

    k: int
    roots: list[str]                 # the outermost modules of the frozen blocks
    point: str                       # the module whose output is recorded and replayed
    kind: str                        # "rows", "token0", "pool" or "fixed" (see WHAT)
    templates: dict = field(default_factory=dict)  # module -> (is_tuple, tuple length, shape, dtype)


class Segment:
    """A cache point in use on ``net``: its forward replacements, its recording hook and its store.

    ``counts`` gives the rows of each example ("rows": its real tokens); the store is created at the
    first recording, once the output's shape and dtype are known, and goes to a file above
    ``spill_bytes``.
    """

    def __init__(self, net: nn.Module, point: CachePoint, counts: np.ndarray, device,
                 spill_bytes: Optional[int] = None, spill_dir=None):
        self.p, self.counts, self.device = point, np.asarray(counts, dtype=np.int64), device
        self.spill_bytes, self.spill_dir = spill_bytes, spill_dir
        self.store: Optional[RowStore] = None
        self.mode: Optional[str] = None
        self.positions, self.width = None, None
        self.recorded = self.replayed = 0
        names = dict.fromkeys(point.roots + [point.point])
        self._undo = [self._stand_in(name, net.get_submodule(name)) for name in names]
        self._hook = net.get_submodule(point.point).register_forward_hook(self._record)

    def _stand_in(self, name: str, module: nn.Module):
        own = module.__dict__.get("forward")
        original = getattr(own, "_prefix_cache_original", None) or module.forward  # never wrap a wrapper
        segment = self

        def forward(*args, **kwargs):
            return segment._replay(name) if segment.mode == "replay" else original(*args, **kwargs)
        forward._prefix_cache_original = original
        module.forward = forward
        return module, own if own is not None and not hasattr(own, "_prefix_cache_original") else None

    def close(self) -> None:
        """Give every module its own forward back and drop the store."""
        self._hook.remove()
        for module, own in self._undo:
            if own is not None:
                module.forward = own
            else:
                module.__dict__.pop("forward", None)
        self._undo, self.store = [], None

    def _record(self, _module, _args, output) -> None:
        if self.mode != "record":
            return
        x = output[0] if isinstance(output, (tuple, list)) else output
        if self.p.kind == "token0":
            x = x[:, :1]
        if self.store is None:
            rows = self.p.kind == "rows"
            self.store = RowStore(self.counts if rows else np.ones(len(self.counts), dtype=np.int64),
                                  tuple(x.shape[2:] if rows else x.shape[1:]), x.dtype, self.device,
                                  self.spill_bytes, self.spill_dir, padded=rows)
        self.store.write(self.positions, x)

    def _replay(self, name: str):
        is_tuple, n, shape, dtype = self.p.templates[name]
        if name == self.p.point:
            x = self.store.read(self.positions, self.width, self.device)
        else:
            dims = [len(self.positions) if d == "B" else self.width if d == "L" else d for d in shape]
            x = torch.zeros((), dtype=dtype, device=self.device).expand(dims)
        return (x,) + (None,) * (n - 1) if is_tuple else x

    @contextlib.contextmanager
    def feeding(self, positions: np.ndarray, width: Optional[int], replay: Optional[bool] = None):
        """Context of one forward of the examples at ``positions`` (text padded to ``width``).

        ``replay`` None: replay when every example is recorded, else run everything and record.
        """
        if replay is None:
            replay = self.store is not None and self.store.has(positions)
        self.mode, self.positions, self.width = ("replay" if replay else "record"), positions, width
        try:
            yield
        finally:
            self.mode = None
        if replay:
            self.replayed += 1
        else:
            self.recorded += 1

    def info(self) -> dict:
        """Batches recorded and replayed, and the store's size."""
        s = self.store
        return {"recorded_batches": self.recorded, "replayed_batches": self.replayed,
                "bytes": s.nbytes if s else 0, "on_disk": bool(s and s.on_disk)}

"""The training batches of one epoch, built ahead in background worker processes (``train.workers``).

A training batch is a pure function of (seed, epoch, batch index): its rows come from
:func:`~tuneforge.data.encode.batch_order`, and its augmentation (crops, flips, colour jitter,
mixup...) draws only from a generator seeded by those three numbers. So batches can be built
in any order, in any process, and still be the same tensors as when built one by one:
``workers: N`` keeps up to ``2 N`` batches in flight on N processes while the model trains on
the current one, and hands them out strictly in order. A resumed run asks for the same
indices from its batch on, so resuming stays exact.

Processes, not threads: torchvision's augmentations draw from torch's global random state
(seeded per batch inside ``fork_rng``, see ``data/augment/pipeline.py``), which threads would
share and race on. The workers are forked once per ``fit`` (they inherit the encoded split
without copying it; each runs torch on one thread, as DataLoader workers do) and get only
row indices and seeds per batch; tensors come back through shared memory. Images and audio
are decoded when the split is encoded, so what workers take off the training process is
resizing, normalising and augmenting. Text batches only pad token lists: workers gain
nothing there (allowed, same batches). The speed-up is not measured here (a shared 2-core machine).

Example::

    with BatchWorkers(split, workers=2) as pool:
        source = EpochBatches(split, order, seed=0, epoch=0, pool=pool)
        for bi in range(len(order)):
            idx, batch = source.get(bi)
"""
from __future__ import annotations

from concurrent.futures import Future, ProcessPoolExecutor
from typing import Optional

import numpy as np
import torch

from ..data.encode import epoch_view

_DATA = None  # the encoded split, in a worker process (inherited at fork)


def batch_generator(seed: int, epoch: int, bi: int) -> torch.Generator:
    """The generator that augments training batch ``bi`` of ``epoch`` (the same in every process)."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch * 10_007 + bi)


def build_batch(data, rows: np.ndarray, seed: int, epoch: int, bi: int, extra: dict) -> dict[str, torch.Tensor]:
    return data.batch(rows, train=True, generator=batch_generator(seed, epoch, bi), **extra)


def _worker_start(data) -> None:
    global _DATA
    _DATA = data
    torch.set_num_threads(1)


def _worker_build(rows, seed, epoch, bi, extra):
    return build_batch(_DATA, rows, seed, epoch, bi, extra)


class BatchWorkers:
    """``workers`` forked processes that build training batches of ``data`` (none when 0)."""

    def __init__(self, data, workers: int):
        self.workers = workers
        self.pool: Optional[ProcessPoolExecutor] = None
        if workers:
            context = torch.multiprocessing.get_context("fork")  # tensors come back in shared memory
            self.pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_start,
                                            initargs=(data,))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class EpochBatches:
    """Batch ``bi`` of one epoch, for this process (``rank`` of ``world``): ``(row indices, tensors)``."""

    def __init__(self, data, order: list[np.ndarray], seed: int, epoch: int, pool: Optional[BatchWorkers] = None,
                 rank: int = 0, world: int = 1):
        self.data, self.order, self.seed, self.epoch = data, order, seed, epoch
        self.rank, self.world = rank, world
        views = getattr(data, "views", None)  # data.augment_views: every batch of epoch e uses view e mod K
        self.extra = {"view": epoch_view(seed, epoch, views)} if views else {}
        self.pool = pool.pool if pool is not None else None
        self.ahead = 2 * pool.workers if pool is not None else 0
        self.pending: dict[int, Future] = {}

    def rows(self, bi: int) -> np.ndarray:
        return self.order[bi][self.rank::self.world]

    def get(self, bi: int) -> tuple[np.ndarray, dict[str, torch.Tensor]]:
        if self.pool is None:
            return self.rows(bi), build_batch(self.data, self.rows(bi), self.seed, self.epoch, bi, self.extra)
        for later in range(bi, min(bi + 1 + self.ahead, len(self.order))):
            if later not in self.pending:
                self.pending[later] = self.pool.submit(_worker_build, self.rows(later), self.seed, self.epoch,
                                                       later, self.extra)
        for done in [k for k in self.pending if k < bi]:  # never asked for: dropped
            self.pending.pop(done).cancel()
        return self.rows(bi), self.pending.pop(bi).result()

    def close(self) -> None:
        """Drop the batches built ahead that this epoch will not use (a stop, or the last step reached)."""
        for future in self.pending.values():
            future.cancel()
        self.pending = {}

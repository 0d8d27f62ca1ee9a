"""The replay buffer: a reservoir sample of earlier tasks' training examples, and joining splits.

Reservoir sampling (Vitter's algorithm R) keeps ``size`` examples of a stream so that each
example seen so far is kept with the same probability, whatever the stream's length. The
stream here is the training rows of task 1, then task 2, ...; the buffer that step ``i``
trains with is the reservoir after the tasks before ``i``. It is recomputed from the seed
and the data (no state to save), so a resumed sequence replays exactly the same examples.

Example::

    keep = reservoir(1000, size=50, seed=0)     # 50 sorted positions among 1000 stream rows
"""
from __future__ import annotations

import numpy as np
import torch

from ..data.bundle import Split


def reservoir(stream_length: int, size: int, seed: int) -> np.ndarray:
    """Positions (sorted) of the ``size`` stream rows algorithm R keeps from a stream of ``stream_length``."""
    rng = np.random.default_rng(seed)
    kept = list(range(min(size, stream_length)))
    for t in range(size, stream_length):
        j = int(rng.integers(0, t + 1))
        if j < size:
            kept[j] = t
    return np.sort(np.asarray(kept, dtype=np.int64))


def concat_splits(splits: list[Split]) -> Split:
    """One split with the rows of ``splits`` in order (images: tensors of one size; text: lists)."""
    first = splits[0]
    if len(splits) == 1:
        return first
    if isinstance(first.inputs, torch.Tensor):
        inputs = torch.cat([s.inputs for s in splits])
    elif isinstance(first.inputs, list):
        inputs = type(first.inputs)([x for s in splits for x in s.inputs])
    else:
        raise TypeError(f"cannot join splits whose inputs are {type(first.inputs).__name__}")
    return Split(inputs, np.concatenate([s.targets for s in splits]))


def replay_split(earlier: list[Split], size: int, seed: int) -> Split | None:
    """The reservoir of ``earlier`` tasks' training rows (None when there is no earlier task)."""
    if not earlier:
        return None
    stream = concat_splits(earlier)
    return stream.subset(reservoir(len(stream), size, seed))

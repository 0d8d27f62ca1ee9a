"""Where the frozen-prefix cache keeps what it recorded: one tensor of rows, in memory or on disk.

Each example owns ``counts[i]`` consecutive rows (its real tokens for a text model, one row
for a fixed-shape output). Rows are written once per example and read back for any batch,
re-padded to that batch's width with zeros. Above ``spill_bytes`` the rows live in a numpy
memmap whose file is unlinked as soon as it is mapped, so nothing is left behind on disk.

Example::

    store = RowStore(counts=np.array([3, 5]), row_shape=(32,), dtype=torch.float32, device="cpu")
    store.write(np.array([0, 1]), hidden)          # hidden: [2, 5, 32], example 0 padded
    store.read(np.array([1, 0]), width=5)           # [2, 5, 32], zeros where padded
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np
import torch

# numpy has no bfloat16: such rows are kept on disk as their 16-bit pattern
_DISK_DTYPE = {torch.bfloat16: np.int16, torch.float16: np.float16, torch.float32: np.float32,
               torch.float64: np.float64}


class RowStore:
    """Rows of every example, addressed by example position; see the module docstring."""

    def __init__(self, counts: np.ndarray, row_shape: tuple, dtype: torch.dtype, device,
                 spill_bytes: Optional[int] = None, spill_dir: Optional[Path] = None, padded: bool = False):
        self.counts = np.asarray(counts, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)])
        self.row_shape, self.dtype, self.padded = tuple(row_shape), dtype, padded
        self.filled = np.zeros(len(self.counts), dtype=bool)
        rows = int(self.offsets[-1])
        self.nbytes = rows * int(np.prod(self.row_shape, dtype=np.int64)) * torch.empty((), dtype=dtype).element_size()
        self.on_disk = spill_bytes is not None and self.nbytes > spill_bytes and dtype in _DISK_DTYPE
        if self.on_disk:
            self.data = _unlinked_memmap(rows, self.row_shape, _DISK_DTYPE[dtype], spill_dir).view(dtype)
            self.device = torch.device("cpu")
        else:
            self.device = torch.device(device)
            self.data = torch.empty((rows,) + self.row_shape, dtype=dtype, device=self.device)

    def has(self, positions: np.ndarray) -> bool:
        return bool(self.filled[positions].all())

    def _gather(self, positions: np.ndarray, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(indices into a flat [B * width] batch, indices into the stored rows) of every real row."""
        counts = self.counts[positions]
        if (counts > width).any():
            raise RuntimeError(f"frozen-prefix cache: an example has {counts.max()} rows, the batch only {width}")
        total = int(counts.sum())
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        within = np.arange(total) - starts
        in_batch = np.repeat(np.arange(len(positions)), counts) * width + within
        in_store = np.repeat(self.offsets[positions], counts) + within
        return torch.from_numpy(in_batch), torch.from_numpy(in_store)

    @torch.no_grad()
    def write(self, positions: np.ndarray, values: torch.Tensor) -> None:
        """Store ``values`` (``[B, width, *row]`` when padded, else ``[B, *row]``) of these examples."""
        values = values.detach().to(self.dtype)
        if self.padded:
            width = values.shape[1]
            in_batch, in_store = self._gather(positions, width)
            flat = values.reshape((-1,) + self.row_shape)
            self.data[in_store.to(self.data.device)] = flat[in_batch.to(flat.device)].to(self.data.device)
        else:
            rows = torch.from_numpy(self.offsets[positions]).to(self.data.device)
            self.data[rows] = values.reshape((-1,) + self.row_shape).to(self.data.device)
        self.filled[positions] = True

    @torch.no_grad()
    def read(self, positions: np.ndarray, width: Optional[int], device) -> torch.Tensor:
        """The stored values of these examples, on ``device``; padded ones zero-filled to ``width``."""
        if not self.padded:
            rows = torch.from_numpy(self.offsets[positions]).to(self.data.device)
            return self.data[rows].to(device, non_blocking=True)
        in_batch, in_store = self._gather(positions, width)
        out = torch.zeros((len(positions) * width,) + self.row_shape, dtype=self.dtype, device=device)
        out[in_batch.to(device)] = self.data[in_store.to(self.data.device)].to(device, non_blocking=True)
        return out.reshape((len(positions), width) + self.row_shape)


def _unlinked_memmap(rows: int, row_shape: tuple, np_dtype, folder: Optional[Path]) -> torch.Tensor:
    """A writable tensor backed by a fresh file that is already removed from its folder."""
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="prefix-cache-", suffix=".bin", dir=folder)
    try:
        shape = (max(rows, 1),) + row_shape
        with os.fdopen(fd, "w+b") as f:
            f.truncate(int(np.prod(shape, dtype=np.int64)) * np.dtype(np_dtype).itemsize)
            mm = np.memmap(f, dtype=np_dtype, mode="r+", shape=shape)
    finally:
        os.unlink(name)  # the mapping keeps the data alive; the folder stays clean
    return torch.from_numpy(mm)[:rows]

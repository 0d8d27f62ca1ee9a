"""Apply a parsed ``data.augment`` to one training batch, as a pure function of the batch's generator.

Per-image augmentations run on each image on its own (torchvision's v2 transforms draw one
set of random parameters per call, so a batched call would transform every image alike),
on float pixels in 0..1 after resizing and before normalisation. Per-batch ones (mixup,
cutmix) then blend pairs of images and turn the class ids into probability rows; with both
listed, each batch uses one of them, chosen at random.

torchvision draws from torch's global random generator, so every call runs inside
``torch.random.fork_rng`` seeded from the batch's own ``torch.Generator``: equal generators
give equal batches (a resumed run continues exactly), and the global state is left as it was.

Example::

    aug = AugmentPipeline(["hflip", {"name": "rotation", "degrees": 10}, "mixup"])
    x = aug.images(x, generator)                      # B x 3 x H x W, 0..1
    x, soft = aug.mix(x, class_ids, num_classes=5, generator=generator)
"""
from __future__ import annotations

import contextlib
from typing import Any, Optional

import torch

from ...errors import DataError
from .catalog import AUGMENTATIONS
from .spec import parse_augment


@contextlib.contextmanager
def _seeded_from(generator: torch.Generator):
    """Global torch RNG seeded from one draw of ``generator``; the previous global state is restored."""
    seed = int(torch.randint(0, 2 ** 62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def _one_thread():
    """torch on one thread: per-image ops are too small to split, and splitting them across threads was
    measured 5-10x slower than one thread on a busy machine (a 224-pixel batch of 32, ``light``: 340-600 ms
    against 36-53 ms)."""
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class AugmentPipeline:
    """A parsed ``data.augment``; false when it does nothing."""

    def __init__(self, spec: Any = None):
        self.entries = parse_augment(spec) if not isinstance(spec, AugmentPipeline) else spec.entries
        steps = [(AUGMENTATIONS.get(e["name"]), e) for e in self.entries]
        self._image_steps = [(a, a.options(**{k: v for k, v in e.items() if k != "name"}))
                             for a, e in steps if not a.per_batch]
        self._batch_steps = [(a, a.options(**{k: v for k, v in e.items() if k != "name"}))
                             for a, e in steps if a.per_batch]
        self._built: dict[tuple, Any] = {}

    def __bool__(self) -> bool:
        return bool(self.entries)

    def __repr__(self) -> str:
        return f"AugmentPipeline({self.names})"

    @property
    def names(self) -> list[str]:
        return [e["name"] for e in self.entries]

    @property
    def mixes_labels(self) -> bool:
        """Whether a per-batch step (mixup, cutmix) turns targets into probability rows."""
        return bool(self._batch_steps)

    def _compose(self, size: tuple[int, int]):
        if size not in self._built:
            from torchvision.transforms import v2
            side = size if size[0] != size[1] else size[0]
            self._built[size] = v2.Compose([a.build(o, side) for a, o in self._image_steps])
        return self._built[size]

    def images(self, x: torch.Tensor, generator: Optional[torch.Generator] = None,
               row_seeds: Optional[list[int]] = None) -> torch.Tensor:
        """Each image of ``x`` (B x C x H x W floats in 0..1) through the per-image steps: drawn from
        ``generator``, or with ``row_seeds`` each image from its own seed (the same seed, the same image,
        whatever else is in the batch: ``data.augment_views``)."""
        if not self._image_steps or len(x) == 0:
            return x
        compose = self._compose(tuple(x.shape[-2:]))
        if row_seeds is None:
            with _seeded_from(generator), _one_thread():
                return torch.stack([compose(img) for img in x.contiguous()])
        out = []
        with torch.random.fork_rng(devices=[]), _one_thread():
            for img, seed in zip(x.contiguous(), row_seeds):
                torch.manual_seed(int(seed))
                out.append(compose(img))
        return torch.stack(out)

    def mix(self, x: torch.Tensor, targets: torch.Tensor, num_classes: Optional[int],
            generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(images, probability rows) after mixup or cutmix; unchanged when there is no per-batch step."""
        if not self._batch_steps or len(x) == 0:
            return x, targets
        if targets.dtype != torch.int64 or targets.ndim != 1 or not num_classes:
            raise DataError("data.augment: mixup and cutmix need one class id per example "
                            "(a single-label classification task)")
        with _seeded_from(generator):
            pick = int(torch.randint(0, len(self._batch_steps), (1,)))
            entry, opts = self._batch_steps[pick]
            return entry.build(opts, num_classes)(x, targets)

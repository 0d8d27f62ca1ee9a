"""Helpers that write tiny images for the data-layer tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_image(path: Path, size=(12, 10), grey=False, fmt=None, seed=0) -> Path:
    """A small random PNG/JPEG (grey or RGB) at ``path``."""
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) if grey else (size[1], size[0], 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path, format=fmt)
    return path


def image_folder(root: Path, per_class=3, classes=("cat", "dog"), size=(12, 10)) -> Path:
    for c, name in enumerate(classes):
        for i in range(per_class):
            write_image(root / name / f"{i}.png", size=size, grey=(i % 2 == 0), seed=10 * c + i)
    return root

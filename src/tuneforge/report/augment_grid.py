"""What the model sees: a grid of training images before and after ``data.augment``.

At the start of a run with augmentation, :func:`write_augment_grid` saves
``augment_grid.png`` in the run folder: a few training images as loaded (top row) and
the same images as one training batch gives them to the model (bottom row: augmented,
mixed by mixup/cutmix when those are on, de-normalised back to colours). The titles
show each image's label, or its label mix. :func:`augmentation_section` puts the PNG
in ``report.html``, so a user can check that the augmentation keeps images recognisable.

Example::

    write_augment_grid(p.encoded["train"], run_dir, seed=42, label_names=["cat", "dog"])
"""
from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from .html import note, section
from ..data.encode import epoch_view
from .figures import new_figure

GRID_FILE = "augment_grid.png"
GRID_IMAGES = 8


def _pixels(x: torch.Tensor, spec) -> np.ndarray:
    """Normalised model inputs back to ``B x H x W x 3`` colours in 0..1."""
    mean = torch.tensor(spec.mean, dtype=x.dtype)[None, :, None, None]
    std = torch.tensor(spec.std, dtype=x.dtype)[None, :, None, None]
    return (x.float().cpu() * std + mean).clamp(0, 1).permute(0, 2, 3, 1).numpy()


def _title(target: torch.Tensor, names: Optional[Sequence[str]]) -> str:
    def name(i: int) -> str:
        return names[i] if names and i < len(names) else str(i)

    if target.ndim == 0:
        return name(int(target)) if not target.is_floating_point() else f"{float(target):.3g}"
    if target.numel() > 1 and target.is_floating_point() and (target.sum() - 1).abs() < 1e-4:  # a label mix
        top = torch.argsort(target, descending=True)[:2]
        return " / ".join(f"{name(int(i))} {float(target[i]):.2f}" for i in top if target[i] > 0.005)
    return ", ".join(name(int(i)) for i in torch.nonzero(target > 0.5).flatten()) or "-"


def write_augment_grid(encoded, run_dir: Path, seed: int, label_names: Optional[Sequence[str]] = None,
                       n: int = GRID_IMAGES) -> Optional[Path]:
    """Save ``run_dir/augment_grid.png`` for an augmented image split; None (nothing written) otherwise."""
    if not getattr(encoded, "augment", None) or getattr(encoded, "pixels", None) is None or len(encoded) == 0:
        return None

    idx = np.unique(np.linspace(0, len(encoded) - 1, min(n, len(encoded))).astype(np.int64))
    plain = encoded.batch(idx, train=False)
    views = getattr(encoded, "views", None)  # data.augment_views: show view 0, which the first epoch trains on
    extra = {"view": epoch_view(seed, 0, views)} if views else {}
    seen = encoded.batch(idx, train=True, generator=torch.Generator().manual_seed(seed), **extra)
    rows = [("as loaded", _pixels(plain["pixel_values"], encoded.spec), plain["targets"]),
            ("as the model sees it", _pixels(seen["pixel_values"], encoded.spec), seen["targets"])]
    fig = new_figure(1.25 * len(idx), 3.0)
    axes = fig.subplots(2, len(idx), squeeze=False)
    for r, (label, images, targets) in enumerate(rows):
        for c in range(len(idx)):
            ax = axes[r][c]
            ax.imshow(images[c], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(_title(targets[c], label_names), fontsize=6)
            if c == 0:
                ax.set_ylabel(label, fontsize=7)
    path = Path(run_dir) / GRID_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png")
    os.replace(tmp, path)
    return path


def augmentation_section(run_dir: Path, names: Sequence[str] = ()) -> str:
    """The report's section showing ``augment_grid.png`` ('' when the run had no augmentation)."""
    path = Path(run_dir) / GRID_FILE
    if not path.is_file():
        return ""
    uri = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    listed = f" (data.augment: {', '.join(names)})" if names else ""
    return section("What the model sees: augmentation",
                   f'<figure><img src="{uri}" alt="augmented training images"></figure>',
                   note(f"Top: training images as loaded. Bottom: the same images in one training batch{listed}, "
                        "as the model receives them; validation and test images are never augmented."),
                   anchor="augmentation")

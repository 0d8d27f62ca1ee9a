"""Image folders, one-time decoding of an image column, and per-batch pixel preparation.

Images are decoded once, at load time, into one uint8 tensor ``N x C x H x W`` at a
common size (C is 1 when every image is grey, else 3). Each batch is then turned
into normalised float ``pixel_values`` by :func:`image_batch`, which is also where
training-time augmentation happens.

Example::

    df = read_image_folder("photos/")            # columns image (path), label (folder name)
    pixels = decode_images(df["image"], size=64, base_dir=None, root=None, source="photos/")
    x = image_batch(pixels[:8], ImageSpec(224, (0.5,) * 3, (0.5,) * 3), ["hflip"], torch.Generator())
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from ..errors import DataError
from .augment import AugmentPipeline

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}
MAX_DEFAULT_SIZE = 256  # mixed sizes with no size asked for: the median longer side, at most this


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def read_image_folder(folder: str | Path) -> pd.DataFrame:
    """A table of ``image`` (absolute path) and ``label`` (sub-folder name) for a folder of class folders."""
    folder = Path(folder)
    rows = [(str(p.resolve()), sub.name)
            for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
            for p in sorted(sub.rglob("*")) if _is_image(p)]
    if not rows:
        loose = any(_is_image(p) for p in folder.iterdir())
        hint = (" (images lie directly in it: put them in one sub-folder per class)" if loose
                else f" (looked for {', '.join(sorted(IMAGE_SUFFIXES))} files in its sub-folders)")
        raise DataError(f"{folder}: no images found{hint}")
    df = pd.DataFrame(rows, columns=["image", "label"])
    df.attrs["tuneforge.lines"] = None
    return df


def folder_has_images(folder: Path) -> bool:
    """Cheap check (stops at the first image) used by ``check_data``."""
    for sub in folder.iterdir():
        if sub.is_dir() and any(_is_image(p) for p in sub.rglob("*")):
            return True
    return False


class _Item:
    """One image to decode: either an in-memory array or a resolved file path."""

    def __init__(self, value, base_dir: Optional[Path], root: Optional[Path], where: str):
        self.where = where
        self.array: Optional[np.ndarray] = None
        self.path: Optional[Path] = None
        if isinstance(value, np.ndarray):
            self.array = _check_array(value, where)
        elif isinstance(value, (str, Path)) and str(value).strip():
            path = Path(value).expanduser()
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            path = path.resolve()
            if root is not None and not path.is_relative_to(root):
                raise DataError(f"{where}: image path {str(value)!r} resolves to {path}, outside data.root "
                                f"({root}); move the image inside it or change data.root")
            self.path = path
        else:
            raise DataError(f"{where}: an image must be a file path or a numpy array, got "
                            f"{type(value).__name__} {value!r:.60}")

    def header(self) -> tuple[int, int, bool]:
        """(height, width, is_grey) without decoding pixels."""
        if self.array is not None:
            return self.array.shape[0], self.array.shape[1], self.array.ndim == 2
        with self._open() as im:
            return im.height, im.width, im.mode in GREY_MODES

    def _open(self) -> Image.Image:
        if not self.path.exists():
            raise DataError(f"{self.where}: image file {self.path} does not exist")
        if self.path.is_dir():
            raise DataError(f"{self.where}: {self.path} is a folder, not an image file")
        if self.path.stat().st_size == 0:
            raise DataError(f"{self.where}: image file {self.path} is empty (0 bytes)")
        try:
            return Image.open(self.path)
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
            raise DataError(f"{self.where}: {self.path} is not a readable image ({e}); "
                            "replace or remove it") from None

    def pixels(self, channels: int, size: Optional[int]) -> np.ndarray:
        """H x W x C uint8, converted to ``channels`` and resized to ``size`` if needed."""
        mode = "L" if channels == 1 else "RGB"
        if self.array is not None:
            im = Image.fromarray(self.array)
        else:
            try:
                with self._open() as opened:
                    im = opened.convert(mode) if opened.mode != mode else opened.copy()
            except DataError:
                raise
            except (OSError, ValueError, SyntaxError) as e:  # truncated or corrupt pixel data
                raise DataError(f"{self.where}: {self.path} is corrupt or truncated ({e}); "
                                "replace or remove it") from None
        if im.mode != mode:
            im = im.convert(mode)
        if size is not None and im.size != (size, size):
            im = im.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None)
        out = np.asarray(im, dtype=np.uint8)
        return out[:, :, None] if out.ndim == 2 else out


def _check_array(a: np.ndarray, where: str) -> np.ndarray:
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise DataError(f"{where}: an image array must be H x W (grey) or H x W x 3 (RGB); got shape {a.shape}")
    if a.ndim == 3 and a.shape[2] == 4:
        a = a[:, :, :3]
    if a.dtype == np.uint8:
        return a
    if np.issubdtype(a.dtype, np.floating) and a.size and np.nanmin(a) >= 0 and np.nanmax(a) <= 1:
        return np.round(a * 255).astype(np.uint8)
    if a.size and np.nanmin(a) >= 0 and np.nanmax(a) <= 255:
        return np.round(a).astype(np.uint8)
    raise DataError(f"{where}: image array values must lie in 0..255 (or 0..1 for floats); "
                    f"got {a.dtype} from {np.nanmin(a)} to {np.nanmax(a)}")


def _items(values, base_dir, root, source, row_labels) -> list[_Item]:
    root = Path(root).resolve() if root is not None else None
    base_dir = Path(base_dir) if base_dir is not None else None
    labels = row_labels if row_labels is not None else [f"row {i + 1} of {source}" for i in range(len(values))]
    return [_Item(v, base_dir, root, w) for v, w in zip(list(values), labels)]


def probe_images(values, base_dir: Optional[Path], root: Optional[Path], source: str,
                 row_labels: Optional[Sequence[str]] = None) -> list[tuple[int, int, bool]]:
    """(height, width, is_grey) of each image, from file headers only."""
    return [item.header() for item in _items(values, base_dir, root, source, row_labels)]


def choose_geometry(headers: list[tuple[int, int, bool]], size: Optional[int]) -> tuple[int, Optional[int]]:
    """(channels, size) for a set of images: 1 channel only if all are grey; ``size`` None keeps a uniform size."""
    channels = 1 if all(grey for _, _, grey in headers) else 3
    if size is None and len({(h, w) for h, w, _ in headers}) > 1:
        size = int(min(MAX_DEFAULT_SIZE, np.median([max(h, w) for h, w, _ in headers])))
    return channels, size


def _stack_arrays(items: list[_Item], channels: int, size: Optional[int]) -> Optional[np.ndarray]:
    """N x H x W x C straight from same-shaped arrays that need no resizing, else None."""
    if any(item.array is None for item in items):
        return None
    shapes = {item.array.shape for item in items}
    if len(shapes) != 1:
        return None
    shape = shapes.pop()
    if (size is not None and shape[:2] != (size, size)) or (channels == 1 and len(shape) == 3):
        return None
    stacked = np.stack([item.array for item in items])
    if stacked.ndim == 3:
        stacked = stacked[..., None]
    return np.repeat(stacked, 3, axis=-1) if channels == 3 and stacked.shape[-1] == 1 else stacked


def decode_images(column_values, size: int | None, base_dir: Path | None, root: Path | None, source: str,
                  *, channels: Optional[int] = None, row_labels: Optional[Sequence[str]] = None) -> torch.Tensor:
    """Decode paths or arrays into one uint8 tensor ``N x C x H x W``.

    Paths are relative to ``base_dir`` and must stay inside ``root`` when it is given.
    ``size`` None keeps the images' own size when they all share one (otherwise the median
    longer side, capped at 256). ``channels`` forces 1 or 3 (used to match several splits).
    """
    items = _items(column_values, base_dir, root, source, row_labels)
    if not items:
        raise DataError(f"{source}: no images to decode")
    if channels is None:  # callers that pass channels have already probed (and chosen the size)
        channels, size = choose_geometry([item.header() for item in items], size)
    fast = _stack_arrays(items, channels, size)
    if fast is not None:
        return torch.from_numpy(fast).permute(0, 3, 1, 2).contiguous()
    workers = min(8, max(1, len(items) // 256))
    if workers > 1 and items[0].path is not None:
        with ThreadPoolExecutor(workers) as pool:
            arrays = list(pool.map(lambda it: it.pixels(channels, size), items))
    else:
        arrays = [item.pixels(channels, size) for item in items]
    if len({a.shape for a in arrays}) > 1:  # only possible when size was None and a header lied
        raise DataError(f"{source}: images have different sizes; set data.image_size")
    stacked = np.stack(arrays)  # N x H x W x C
    return torch.from_numpy(stacked).permute(0, 3, 1, 2).contiguous()


def as_pipeline(augment) -> AugmentPipeline:
    return augment if isinstance(augment, AugmentPipeline) else AugmentPipeline(augment)


def image_batch(pixels_uint8: torch.Tensor, spec, augment, generator: torch.Generator | None,
                row_seeds: Optional[Sequence[int]] = None) -> torch.Tensor:
    """Float ``B x 3 x spec.size x spec.size`` pixel values, augmented (if asked) and normalised.

    ``augment`` is an :class:`~tuneforge.data.augment.AugmentPipeline` or anything ``data.augment``
    accepts; only its per-image steps apply here (mixup and cutmix need the targets: see
    :meth:`EncodedSplit.batch`). Random draws come from ``generator``, or per image from ``row_seeds``;
    nothing is augmented without either.
    """
    x = pixels_uint8.float().div_(255.0)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if tuple(x.shape[-2:]) != (spec.size, spec.size):
        x = F.interpolate(x, size=(spec.size, spec.size), mode="bilinear", antialias=True, align_corners=False)
    if augment and (generator is not None or row_seeds is not None):
        x = as_pipeline(augment).images(x, generator, row_seeds)
    return normalise(x, spec)


def normalise(x: torch.Tensor, spec) -> torch.Tensor:
    """Pixels in 0..1 -> the model's input scale (``(x - mean) / std`` per channel)."""
    mean = torch.tensor(spec.mean, dtype=x.dtype, device=x.device)[None, :, None, None]
    std = torch.tensor(spec.std, dtype=x.dtype, device=x.device)[None, :, None, None]
    return (x - mean) / std

"""Every augmentation ``data.augment`` can name: its options (with defaults) and how it is built.

An entry is per-image (a ``torchvision.transforms.v2`` transform applied to each training
image on its own, float pixels in 0..1 before normalisation) or per-batch (``mixup``,
``cutmix``: they blend pairs of images of a batch and so also blend their labels).
Options are pydantic models, so a recipe's typo or out-of-range value is caught with the
same messages as every other recipe key, and ``tuneforge show augmentation NAME`` lists them.
torchvision is imported only when a transform is built.

Example::

    entry = AUGMENTATIONS.get("rotation")
    opts = entry.options(degrees=15)
    rotate = entry.build(opts, 224)      # callable on one 3 x 224 x 224 float image
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ...registry import Registry


class Options(BaseModel):
    """Options of one augmentation (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid")


def _range(lo_min: float, hi_max: float):
    """A validator for a ``[low, high]`` pair inside ``[lo_min, hi_max]`` with low <= high."""
    def check(cls, v):
        lo, hi = v
        if not lo_min <= lo <= hi <= hi_max:
            raise ValueError(f"must be [low, high] with {lo_min} <= low <= high <= {hi_max}")
        return v
    return check


@dataclass(frozen=True)
class Augmentation:
    """One named augmentation: ``build(options, size)`` gives a per-image callable (None for per-batch ones)."""

    name: str
    description: str
    options: type[Options]
    build: Callable[[Any, int], Any]
    per_batch: bool = False


AUGMENTATIONS: Registry = Registry("augmentation")


def _add(name: str, description: str, options: type[Options], build, per_batch: bool = False) -> None:
    AUGMENTATIONS.register(name, description)(Augmentation(name, description, options, build, per_batch))


def _v2():
    from torchvision.transforms import v2
    return v2


# -- geometry ------------------------------------------------------------------------------------

class FlipOptions(Options):
    p: float = Field(0.5, ge=0.0, le=1.0, description="chance that an image is flipped")


_add("hflip", "mirror left-right (each image with chance p)", FlipOptions,
     lambda o, size: _v2().RandomHorizontalFlip(o.p))
_add("vflip", "mirror top-bottom (each image with chance p; for aerial, microscopy, ...)", FlipOptions,
     lambda o, size: _v2().RandomVerticalFlip(o.p))


class RotationOptions(Options):
    degrees: float = Field(15.0, gt=0.0, le=180.0, description="rotate by an angle drawn from [-degrees, degrees]; "
                                                              "corners are filled with black")


_add("rotation", "rotate by a random angle, keeping the image size", RotationOptions,
     lambda o, size: _v2().RandomRotation(o.degrees))


class CropOptions(Options):
    scale: tuple[float, float] = Field((0.8, 1.0), description="area of the crop as a fraction of the image")
    ratio: tuple[float, float] = Field((0.75, 1.3333), description="aspect ratio (width / height) of the crop")
    _scale = field_validator("scale")(classmethod(_range(0.01, 1.0)))
    _ratio = field_validator("ratio")(classmethod(_range(0.1, 10.0)))


_add("crop", "random-resized crop (zoom): a random part of the image, resized back to full size", CropOptions,
     lambda o, size: _v2().RandomResizedCrop(size, scale=tuple(o.scale), ratio=tuple(o.ratio), antialias=True))


class TranslateOptions(Options):
    fraction: float = Field(0.1, gt=0.0, le=0.5, description="largest shift, as a fraction of the width and "
                                                             "height; the uncovered edge is black")


_add("translate", "shift by a random offset, keeping the image size", TranslateOptions,
     lambda o, size: _v2().RandomAffine(degrees=0, translate=(o.fraction, o.fraction)))


# -- colour and detail ---------------------------------------------------------------------------

class JitterOptions(Options):
    brightness: float = Field(0.2, ge=0.0, description="brightness factor drawn from [1 - b, 1 + b]")
    contrast: float = Field(0.2, ge=0.0, description="contrast factor drawn from [1 - c, 1 + c]")
    saturation: float = Field(0.2, ge=0.0, description="saturation factor drawn from [1 - s, 1 + s]")
    hue: float = Field(0.0, ge=0.0, le=0.5, description="hue shift drawn from [-h, h] (of a full turn)")


_add("color-jitter", "random brightness, contrast, saturation (and hue)", JitterOptions,
     lambda o, size: _v2().ColorJitter(o.brightness, o.contrast, o.saturation, o.hue or None))


class GrayscaleOptions(Options):
    p: float = Field(0.1, ge=0.0, le=1.0, description="chance that an image loses its colour")


_add("grayscale", "make an image grey (three equal channels) with chance p", GrayscaleOptions,
     lambda o, size: _v2().RandomGrayscale(o.p))


class BlurOptions(Options):
    p: float = Field(0.5, ge=0.0, le=1.0, description="chance that an image is blurred")
    kernel_size: int = Field(5, ge=3, description="side of the Gaussian kernel in pixels (odd)")
    sigma: tuple[float, float] = Field((0.1, 2.0), description="standard deviation drawn from this range")

    _sigma = field_validator("sigma")(classmethod(_range(0.01, 100.0)))

    @field_validator("kernel_size")
    @classmethod
    def _odd(cls, v):
        if v % 2 == 0:
            raise ValueError("must be odd")
        return v


_add("blur", "Gaussian blur with a random strength, with chance p", BlurOptions,
     lambda o, size: _v2().RandomApply([_v2().GaussianBlur(o.kernel_size, tuple(o.sigma))], p=o.p))


# -- learned / random policies -------------------------------------------------------------------

class RandAugmentOptions(Options):
    num_ops: int = Field(2, ge=1, le=10, description="operations applied to each image")
    magnitude: int = Field(9, ge=0, le=30, description="strength of each operation (0..30)")


_add("randaugment", "RandAugment: num_ops random operations of one fixed magnitude", RandAugmentOptions,
     lambda o, size: _v2().RandAugment(num_ops=o.num_ops, magnitude=o.magnitude))


class NoOptions(Options):
    pass


_add("trivialaugment", "TrivialAugment (wide): one random operation of random strength per image", NoOptions,
     lambda o, size: _v2().TrivialAugmentWide())


class AutoAugmentOptions(Options):
    policy: Literal["imagenet", "cifar10", "svhn"] = Field("imagenet", description="the learned policy to apply")


def _autoaugment(o, size):
    v2 = _v2()
    return v2.AutoAugment(v2.AutoAugmentPolicy(o.policy))


_add("autoaugment", "AutoAugment: a policy learned on ImageNet, CIFAR-10 or SVHN", AutoAugmentOptions, _autoaugment)


class ErasingOptions(Options):
    p: float = Field(0.25, ge=0.0, le=1.0, description="chance that a rectangle of an image is erased")
    scale: tuple[float, float] = Field((0.02, 0.33), description="area of the rectangle as a fraction of the image")
    ratio: tuple[float, float] = Field((0.3, 3.3), description="aspect ratio of the rectangle")
    value: float = Field(0.0, ge=0.0, le=1.0, description="the rectangle's brightness (0 black, 1 white)")

    _scale = field_validator("scale")(classmethod(_range(0.001, 1.0)))
    _ratio = field_validator("ratio")(classmethod(_range(0.01, 100.0)))


_add("erasing", "random erasing: paint one rectangle a constant value, with chance p", ErasingOptions,
     lambda o, size: _v2().RandomErasing(o.p, scale=tuple(o.scale), ratio=tuple(o.ratio), value=o.value))


# -- per batch: blend images and labels ----------------------------------------------------------

class MixupOptions(Options):
    alpha: float = Field(0.2, gt=0.0, description="the blend weight is drawn from Beta(alpha, alpha)")


class CutmixOptions(Options):
    alpha: float = Field(1.0, gt=0.0, description="the pasted area's share is drawn from Beta(alpha, alpha)")


_add("mixup", "per batch: blend each image with another, labels blended alike (classification only)",
     MixupOptions, lambda o, num_classes: _v2().MixUp(alpha=o.alpha, num_classes=num_classes), per_batch=True)
_add("cutmix", "per batch: paste a rectangle of another image, labels mixed by area (classification only)",
     CutmixOptions, lambda o, num_classes: _v2().CutMix(alpha=o.alpha, num_classes=num_classes), per_batch=True)

"""``image-regression``: predict a number from an image."""
from __future__ import annotations

from .base import register
from .regression import RegressionTask


@register
class ImageRegression(RegressionTask):
    """predict a number from an image"""

    name, modality = "image-regression", "image"

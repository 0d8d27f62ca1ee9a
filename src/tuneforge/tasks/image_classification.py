"""``image-classification``: assign one of K classes to an image."""
from __future__ import annotations

from .base import register
from .classification import ClassificationTask


@register
class ImageClassification(ClassificationTask):
    """assign one of K classes to an image"""

    name, modality = "image-classification", "image"

"""``text-classification``: assign one of K classes to a text."""
from __future__ import annotations

from .base import register
from .classification import ClassificationTask


@register
class TextClassification(ClassificationTask):
    """assign one of K classes to a text"""

    name, modality = "text-classification", "text"

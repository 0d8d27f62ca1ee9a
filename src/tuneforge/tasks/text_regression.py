"""``text-regression``: predict a number from a text."""
from __future__ import annotations

from .base import register
from .regression import RegressionTask


@register
class TextRegression(RegressionTask):
    """predict a number from a text"""

    name, modality = "text-regression", "text"

"""``text-multilabel``: tag a text with any subset of L labels."""
from __future__ import annotations

from .base import register
from .multilabel import MultiLabelTask


@register
class TextMultiLabel(MultiLabelTask):
    """tag a text with any subset of L labels (sigmoid per label, tuned thresholds)"""

    name, modality = "text-multilabel", "text"

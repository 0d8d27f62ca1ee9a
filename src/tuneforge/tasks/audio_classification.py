"""``audio-classification``: assign one of K classes to an audio clip (a spoken word, a sound)."""
from __future__ import annotations

from .base import register
from .classification import ClassificationTask


@register
class AudioClassification(ClassificationTask):
    """assign one of K classes to an audio clip"""

    name, modality = "audio-classification", "audio"
    explains = False   # occlusion explanations cover text and images only

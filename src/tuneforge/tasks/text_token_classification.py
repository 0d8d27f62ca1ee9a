"""``token-classification``: tag every word of a sentence (named entities, BIO tags)."""
from __future__ import annotations

from ..data import words as _words  # noqa: F401  (registers the "words" modality)
from .base import register
from .token_classification import TokenClassificationTask


@register
class TokenClassification(TokenClassificationTask):
    """tag every word with a BIO tag (named entities); entity-level F1 via seqeval"""

    name, modality = "token-classification", "words"

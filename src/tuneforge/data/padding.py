"""The id a tokenizer pads with: its pad token, else its end-of-sequence token (decoders), else 0."""
from __future__ import annotations


def pad_id(tokenizer) -> int:
    """``tokenizer.pad_token_id``, or ``eos_token_id`` when it has no pad token, or 0."""
    for attr in ("pad_token_id", "eos_token_id"):
        value = getattr(tokenizer, attr, None)
        if isinstance(value, int):
            return value
    return 0

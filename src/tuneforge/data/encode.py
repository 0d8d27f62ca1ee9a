"""Turn a :class:`Split` into model batches, and decide the order of batches.

Texts are tokenised once (no padding) and padded per batch to that batch's longest
text; images stay uint8 until :func:`image_batch` makes each batch's float pixels.
:func:`batch_order` can group texts of similar length so that little padding is needed
while the order of batches stays random.

Example::

    enc = encode_split(bundle.train, model, recipe.data)
    for idx in batch_order(len(enc), 32, seed=42, epoch=0, lengths=enc.lengths):
        batch = enc.batch(idx, train=True, generator=gen)   # input_ids, attention_mask, targets
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch

from ..recipe.schema import DataSection
from .bundle import Split
from .images import image_batch
from .words import WordSequences, encode_words

CHARS_PER_TOKEN_BOUND = 128
TOKENIZE_CHUNK = 1000
GROUP_CHUNK_BATCHES = 50


class EncodedSplit:
    """A split ready to be cut into batches: token ids (text) or uint8 pixels (images), plus targets."""

    def __init__(self, targets: np.ndarray, *, token_ids: Optional[list[list[int]]] = None, pad_id: int = 0,
                 pixels: Optional[torch.Tensor] = None, spec=None, augment: Optional[list[str]] = None):
        self.targets = targets
        self.token_ids = token_ids
        self.pad_id = pad_id
        self.pixels = pixels
        self.spec = spec
        self.augment = list(augment or [])
        self.lengths: np.ndarray | None = (np.fromiter((len(t) for t in token_ids), dtype=np.int64,
                                                       count=len(token_ids)) if token_ids is not None else None)
        is_class = np.issubdtype(targets.dtype, np.integer)
        self._targets = torch.tensor(np.asarray(targets), dtype=torch.int64 if is_class else torch.float32)

    def __len__(self) -> int:
        return len(self.targets)

    def batch(self, indices: np.ndarray, train: bool = False,
              generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """The model inputs and ``targets`` for these rows (text padded to this batch's longest)."""
        indices = np.asarray(indices, dtype=np.int64)
        out: dict[str, torch.Tensor] = {}
        if self.token_ids is not None:
            rows = [self.token_ids[i] for i in indices]
            width = max((len(r) for r in rows), default=0)
            ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for j, r in enumerate(rows):
                ids[j, :len(r)] = r
                mask[j, :len(r)] = 1
            out["input_ids"] = torch.from_numpy(ids)
            out["attention_mask"] = torch.from_numpy(mask)
        else:
            augment = self.augment if train else []
            out["pixel_values"] = image_batch(self.pixels[torch.from_numpy(indices)], self.spec, augment, generator)
        out["targets"] = self._targets[torch.from_numpy(indices)]
        return out


def _pad_id(tokenizer) -> int:
    for attr in ("pad_token_id", "eos_token_id"):
        value = getattr(tokenizer, attr, None)
        if isinstance(value, int):
            return value
    return 0


def encode_split(split: Split, model, data: DataSection,
                 targets_transform: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> EncodedSplit:
    """Tokenise (text) or keep the pixels (images) of ``split`` for ``model``; transform targets once."""
    targets = np.asarray(split.targets)
    if targets_transform is not None:
        targets = np.asarray(targets_transform(targets))
    if isinstance(split.inputs, torch.Tensor):
        return EncodedSplit(targets, pixels=split.inputs, spec=model.preprocessor, augment=data.augment)
    if isinstance(split.inputs, WordSequences):   # token classification: words with aligned tags
        return encode_words(split, model, data)
    tokenizer = model.preprocessor
    token_ids: list[list[int]] = []
    # Truncation happens after tokenising, so a huge text (megabytes) would cost seconds for max_length
    # tokens; cut it first to a length no max_length tokens can exceed (a token covers at most ~100
    # characters in the tokenizers we know) -- only pathological texts (kilobytes of spaces) lose anything.
    limit = CHARS_PER_TOKEN_BOUND * data.max_length + 1024
    texts = [t if len(t) <= limit else t[:limit] for t in split.inputs]
    for start in range(0, len(texts), TOKENIZE_CHUNK):
        encoded = tokenizer(texts[start:start + TOKENIZE_CHUNK], truncation=True, max_length=data.max_length)
        token_ids.extend(list(ids) for ids in encoded["input_ids"])
    return EncodedSplit(targets, token_ids=token_ids, pad_id=_pad_id(tokenizer))


def _cut(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def batch_order(n: int, batch_size: int, seed: int, epoch: int, shuffle: bool = True,
                lengths: np.ndarray | None = None, drop_last: bool = False) -> list[np.ndarray]:
    """Row indices of each batch for one epoch, the same for the same (seed, epoch).

    With ``lengths`` and ``shuffle``: shuffle, cut into chunks of ~50 batches, sort each chunk by
    length, cut into batches, shuffle the batches. Without ``shuffle``: in order, or sorted by length
    when ``lengths`` are given (callers restore the original order from the returned indices).
    """
    if not shuffle:
        order = np.argsort(lengths, kind="stable") if lengths is not None else np.arange(n)
        batches = _cut(order, batch_size)
        return batches[:-1] if drop_last and batches and len(batches[-1]) < batch_size else batches
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n)
    if drop_last:
        order = order[: (n // batch_size) * batch_size]
    if lengths is None:
        return _cut(order, batch_size)
    lengths = np.asarray(lengths)
    chunk = batch_size * GROUP_CHUNK_BATCHES
    batches: list[np.ndarray] = []
    for start in range(0, len(order), chunk):
        piece = order[start:start + chunk]
        batches.extend(_cut(piece[np.argsort(lengths[piece], kind="stable")], batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def padding_fraction(lengths: np.ndarray, batches: list[np.ndarray]) -> float:
    """Share of padded positions among all positions when ``batches`` are padded to their longest."""
    lengths = np.asarray(lengths)
    padded = total = 0
    for b in batches:
        if len(b):
            width = int(lengths[b].max())
            total += width * len(b)
            padded += width * len(b) - int(lengths[b].sum())
    return padded / total if total else 0.0

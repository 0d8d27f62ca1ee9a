"""Turn a :class:`Split` into model batches, and decide the order of batches.

Texts are tokenised once (no padding) and padded per batch to that batch's longest
text; a text pair (``data.text_column: [a, b]``) is tokenised as a pair, ``tokenizer(a, b)``, with its
segment ids kept for models that take them; images stay uint8 until :func:`image_batch` makes each batch's float pixels;
audio clips stay raw waveforms (at the model's rate) until :func:`audio_batch` pads and normalises
each batch with the model's feature extractor.
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

from ..errors import DataError
from ..recipe.schema import DataSection
from .balance import balanced_rows
from .bundle import Split
from .audio import Clips, at_rate, audio_batch
from .images import as_pipeline, image_batch
from .padding import pad_id
from .words import WordSequences, encode_words

CHARS_PER_TOKEN_BOUND = 128
TOKENIZE_CHUNK = 1000
GROUP_CHUNK_BATCHES = 50


class EncodedSplit:
    """A split ready to be cut into batches: token ids (text), uint8 pixels (images) or waveforms (audio,
    with the model's feature extractor), plus targets."""

    def __init__(self, targets: np.ndarray, *, token_ids: Optional[list[list[int]]] = None, pad_id: int = 0,
                 pixels: Optional[torch.Tensor] = None, spec=None, augment=None,
                 num_classes: Optional[int] = None, views: Optional[int] = None,
                 token_type_ids: Optional[list[list[int]]] = None,
                 clips: Optional[Clips] = None, extractor=None):
        self.targets = targets
        self.token_ids = token_ids
        self.token_type_ids = token_type_ids   # text pairs: segment ids (0 first text, 1 second)
        self.pad_id = pad_id
        self.pixels = pixels
        self.spec = spec
        self.clips = clips
        self.extractor = extractor
        self.augment = as_pipeline(augment)  # training batches only (``batch(train=True)``)
        self.num_classes = num_classes       # mixup/cutmix: the width of the probability rows
        self.views = views if self.augment else None  # data.augment_views: K fixed views per image
        if self.views and self.augment.mixes_labels:
            raise DataError("data.augment_views fixes one augmented view per image, but mixup and cutmix "
                            "blend two images per batch; remove them or data.augment_views")
        self.lengths: np.ndarray | None = (np.fromiter((len(t) for t in token_ids), dtype=np.int64,
                                                       count=len(token_ids)) if token_ids is not None else None)
        if clips is not None:  # length-grouped batches: little padding (and padding changes group-norm models)
            self.lengths = np.fromiter((len(w) for w in clips.waves), dtype=np.int64, count=len(clips))
        is_class = np.issubdtype(targets.dtype, np.integer)
        self._targets = torch.tensor(np.asarray(targets), dtype=torch.int64 if is_class else torch.float32)

    def __len__(self) -> int:
        return len(self.targets)

    def batch(self, indices: np.ndarray, train: bool = False, generator: torch.Generator | None = None,
              view: Optional[int] = None) -> dict[str, torch.Tensor]:
        """The model inputs and ``targets`` for these rows (text padded to this batch's longest).

        Training batches are augmented from ``generator``; with ``views`` and a ``view`` number, each
        image instead from a seed of (view, row), so a view of an image is the same in any batch.
        """
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
            if self.token_type_ids is not None:
                types = np.zeros((len(rows), width), dtype=np.int64)
                for j, i in enumerate(indices):
                    types[j, :len(self.token_type_ids[i])] = self.token_type_ids[i]
                out["token_type_ids"] = torch.from_numpy(types)
        elif self.clips is not None:
            out.update(audio_batch([self.clips.waves[i] for i in indices], self.extractor))
        else:
            augment = self.augment if train else None
            seeds = view_seeds(view, indices) if train and self.views and view is not None else None
            out["pixel_values"] = image_batch(self.pixels[torch.from_numpy(indices)], self.spec, augment,
                                              generator if seeds is None else None, seeds)
        out["targets"] = self._targets[torch.from_numpy(indices)]
        if train and generator is not None and self.augment.mixes_labels and "pixel_values" in out:
            # mixup / cutmix: targets become probability rows; evaluation batches keep class ids
            out["pixel_values"], out["targets"] = self.augment.mix(out["pixel_values"], out["targets"],
                                                                   self.num_classes, generator)
        return out


def epoch_view(seed: int, epoch: int, views: int) -> int:
    """The ``view`` number training batches of ``epoch`` use with ``data.augment_views`` = ``views``."""
    return seed * 7919 + epoch % views


def view_seeds(view: int, rows: np.ndarray) -> list[int]:
    """One augmentation seed per row for ``view``: the same (view, row), the same seed."""
    return [int(np.random.SeedSequence([int(view), int(r)]).generate_state(1, np.uint64)[0] >> 1) for r in rows]


def encode_split(split: Split, model, data: DataSection,
                 targets_transform: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> EncodedSplit:
    """Tokenise (text), keep the pixels (images) or the clips at the model's rate (audio) of ``split``
    for ``model``; transform targets once."""
    targets = np.asarray(split.targets)
    if targets_transform is not None:
        targets = np.asarray(targets_transform(targets))
    if isinstance(split.inputs, torch.Tensor):
        return EncodedSplit(targets, pixels=split.inputs, spec=model.preprocessor, augment=data.augment,
                            num_classes=getattr(model, "num_outputs", None), views=data.augment_views)
    if isinstance(split.inputs, Clips):
        extractor = model.preprocessor
        return EncodedSplit(targets, clips=at_rate(split.inputs, int(extractor.sampling_rate)), extractor=extractor)
    if isinstance(split.inputs, WordSequences):   # token classification: words with aligned tags
        return encode_words(split, model, data)
    tokenizer = model.preprocessor
    token_ids: list[list[int]] = []
    # Truncation happens after tokenising, so a huge text (megabytes) would cost seconds for max_length
    # tokens; cut it first to a length no max_length tokens can exceed (a token covers at most ~100
    # characters in the tokenizers we know) -- only pathological texts (kilobytes of spaces) lose anything.
    limit = CHARS_PER_TOKEN_BOUND * data.max_length + 1024
    pairs = bool(split.inputs) and isinstance(split.inputs[0], tuple)

    def cut(t: str) -> str:
        return t if len(t) <= limit else t[:limit]

    texts = [(cut(a), cut(b)) for a, b in split.inputs] if pairs else [cut(t) for t in split.inputs]
    # segment ids only where the model takes them (BERT: 0 for the first text, 1 for the second)
    keep_types = pairs and "token_type_ids" in getattr(tokenizer, "model_input_names", ())
    type_ids: Optional[list[list[int]]] = [] if keep_types else None
    for start in range(0, len(texts), TOKENIZE_CHUNK):
        chunk = texts[start:start + TOKENIZE_CHUNK]
        if pairs:   # a pair goes through the tokenizer as a pair, as transformers' pipelines do (text, text_pair)
            encoded = tokenizer([a for a, _ in chunk], [b for _, b in chunk], truncation=True,
                                max_length=data.max_length)
        else:
            encoded = tokenizer(chunk, truncation=True, max_length=data.max_length)
        token_ids.extend(list(ids) for ids in encoded["input_ids"])
        if type_ids is not None:
            type_ids.extend(list(t) for t in encoded["token_type_ids"])
    return EncodedSplit(targets, token_ids=token_ids, pad_id=pad_id(tokenizer), token_type_ids=type_ids)


def _cut(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def batch_order(n: int, batch_size: int, seed: int, epoch: int, shuffle: bool = True,
                lengths: np.ndarray | None = None, drop_last: bool = False,
                classes: np.ndarray | None = None) -> list[np.ndarray]:
    """Row indices of each batch for one epoch, the same for the same (seed, epoch).

    With ``lengths`` and ``shuffle``: shuffle, cut into chunks of ~50 batches, sort each chunk by
    length, cut into batches, shuffle the batches. Without ``shuffle``: in order, or sorted by length
    when ``lengths`` are given (callers restore the original order from the returned indices).
    With ``classes`` (class id per row; ``train.class_balance: sampling``) and ``shuffle`` the epoch's
    ``n`` rows are drawn so that every class occurs equally often (:func:`~.balance.balanced_rows`).
    """
    if not shuffle:
        order = np.argsort(lengths, kind="stable") if lengths is not None else np.arange(n)
        batches = _cut(order, batch_size)
        return batches[:-1] if drop_last and batches and len(batches[-1]) < batch_size else batches
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n) if classes is None else balanced_rows(classes, rng)
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

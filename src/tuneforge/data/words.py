"""Word sequences: the input side of token classification (one list of words per row).

A row's input is a list of words (a CoNLL sentence, or a JSONL/Parquet list cell named by
``data.text_column``); raw text given to ``predict`` is split on white space, and each word
keeps its character offsets so that predicted entities can point back into the text.

Encoding (:func:`encode_words`) runs the model's fast tokenizer on the pre-split words and
aligns word tags to sub-tokens: the first sub-token of each word carries the word's tag and
the others get -100 (ignored by the loss), as the Hugging Face token-classification guide
does; ``data.subword_labels: all`` labels every sub-token instead (a ``B-`` tag becomes
``I-`` after the first piece). Sentences longer than ``data.max_length`` sub-tokens are
truncated; how many sentences and words that cost is counted and reported, and a truncated
word is predicted ``O`` (so a gold entity there counts as missed, never silently dropped).

Model outputs leave evaluation per word: :meth:`TokenEncodedSplit.per_example` picks each
word's first sub-token from the per-position outputs, giving ``[N, W, ...]`` arrays (W: the
split's longest sentence in words; NaN / -100 where a sentence has no such word).

Example::

    enc = encode_words(bundle.train, model, recipe.data)
    enc.truncation           # {'sentences': 3, 'words': 17, 'empty_words': 0}
"""
from __future__ import annotations

import json
import re
from typing import Optional

import numpy as np
import torch

from ..errors import DataError, ModelError
from .modalities import MODALITIES, Modality
from .padding import pad_id

IGNORE = -100
_WORD = re.compile(r"\S+")


class WordSequences(list):
    """A list of word lists; for raw ``predict`` text also ``texts`` and each word's ``offsets`` (start, end)."""

    texts: Optional[list[str]] = None
    offsets: Optional[list[list[tuple[int, int]]]] = None


def parse_words(value) -> Optional[list[str]]:
    """The words of one cell: a list, a JSON list written as text, or text split on white space (None: missing).

    >>> parse_words(["New", "York"]), parse_words('["a", "b"]'), parse_words("to New York")
    (['New', 'York'], ['a', 'b'], ['to', 'New', 'York'])
    """
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(x) for x in value]
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
            if isinstance(items, list):
                return [str(x) for x in items]
        except json.JSONDecodeError:
            pass
    return text.split()


def split_text(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """White-space words of ``text`` and their character offsets."""
    found = list(_WORD.finditer(text))
    return [m.group() for m in found], [(m.start(), m.end()) for m in found]


class Words(Modality):
    """Rows of words (token classification); the input column is ``data.text_column`` (default ``tokens``)."""

    name, default_column, default_label_column = "words", "tokens", "tags"
    hf_example_head = "AutoModelForTokenClassification"
    card_call = ('inputs = tokenizer([["Ada", "lives", "in", "Paris"]], is_split_into_words=True, '
                 'return_tensors="pt")')

    def onnx_preprocessing(self, preprocessor):
        return {"tokenizer": "the tokenizer in this folder: AutoTokenizer.from_pretrained(folder)"
                             ", words given with is_split_into_words=True"}

    @property
    def column_key(self) -> str:
        return "text_column"

    @property
    def model_modality(self) -> str:
        return "text"

    def inputs(self, parts, column, data):
        return {role: WordSequences(parse_words(v) for v in p.df[column]) for role, p in parts.items()}

    def describe(self, inputs):
        lengths = [len(w) for split in inputs.values() for w in split]
        return {"words_per_sentence": {"mean": float(np.mean(lengths)) if lengths else 0.0,
                                       "max": int(max(lengths, default=0))}}

    def raw_inputs(self, values, data):
        texts = [str(x) for x in values]
        pieces = [split_text(t) for t in texts]
        out = WordSequences(words for words, _ in pieces)
        out.texts, out.offsets = texts, [offsets for _, offsets in pieces]
        return out


MODALITIES.register("words", "lists of words (token classification)")(Words())


class TokenEncodedSplit:
    """Sub-token ids with aligned tags, ready for batches; duck-types :class:`~tuneforge.data.encode.EncodedSplit`.

    ``targets`` are the word-level tag ids (one int array per sentence); batches carry the
    sub-token ``targets`` ``[B, T]`` (-100 where ignored) and ``word_index`` ``[B, W]`` (the
    position of each word's first sub-token, -1 where there is none).
    """

    pixels = spec = None
    augment: list = []

    def __init__(self, targets: np.ndarray, token_ids: list[list[int]], sub_labels: list[np.ndarray],
                 word_starts: list[np.ndarray], pad_id: int, truncation: dict):
        self.targets, self.token_ids, self.pad_id = targets, token_ids, pad_id
        self.sub_labels, self.word_starts, self.truncation = sub_labels, word_starts, truncation
        self.lengths = np.fromiter((len(t) for t in token_ids), dtype=np.int64, count=len(token_ids))
        self.max_words = max((len(s) for s in word_starts), default=0)

    def __len__(self) -> int:
        return len(self.token_ids)

    def notes(self, name: str) -> list[str]:
        """What encoding cost, in words, for the run's output (empty when nothing was lost)."""
        t = self.truncation
        out = []
        if t["sentences"]:
            out.append(f"{name}: {t['sentences']} sentence(s) longer than data.max_length={t['max_length']} "
                       f"sub-tokens were truncated; their last {t['words']} word(s) are predicted 'O' "
                       "(raise data.max_length to keep them)")
        if t["empty_words"]:
            out.append(f"{name}: {t['empty_words']} word(s) gave no sub-token (the tokenizer drops them) and are "
                       "predicted 'O'")
        return out

    def batch(self, indices, train: bool = False, generator=None) -> dict[str, torch.Tensor]:
        indices = np.asarray(indices, dtype=np.int64)
        width = max((len(self.token_ids[i]) for i in indices), default=0)
        words = self.max_words
        ids = np.full((len(indices), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(indices), width), dtype=np.int64)
        labels = np.full((len(indices), width), IGNORE, dtype=np.int64)
        where = np.full((len(indices), max(words, 1)), -1, dtype=np.int64)
        for j, i in enumerate(indices):
            n = len(self.token_ids[i])
            ids[j, :n] = self.token_ids[i]
            mask[j, :n] = 1
            labels[j, :n] = self.sub_labels[i]
            where[j, :len(self.word_starts[i])] = self.word_starts[i]
        return {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask),
                "targets": torch.from_numpy(labels), "word_index": torch.from_numpy(where)}

    @staticmethod
    def per_example(batch: dict, values: torch.Tensor) -> torch.Tensor:
        """Per-position ``values`` ``[B, T, ...]`` at each word's first sub-token: ``[B, W, ...]``.

        Words without a sub-token get NaN (floats) or -100 (integers)."""
        where = batch["word_index"]
        if values.ndim < 2 or values.shape[:2] != batch["input_ids"].shape:
            return values
        index = where.clamp(min=0)
        index = index.reshape(index.shape + (1,) * (values.ndim - 2)).expand(index.shape + values.shape[2:])
        picked = values.gather(1, index)
        missing = (where < 0).reshape(where.shape + (1,) * (values.ndim - 2))
        fill = float("nan") if values.is_floating_point() else IGNORE
        return picked.masked_fill(missing, fill)


def encode_words(split, model, data, label_names: Optional[list[str]] = None) -> TokenEncodedSplit:
    """Tokenise pre-split words with the model's fast tokenizer and align the word tags (see module docstring)."""
    tokenizer = model.preprocessor
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"model.name {model.source!r}: token classification needs a fast tokenizer (it maps "
                         "sub-tokens to words); this model's tokenizer is a slow one")
    mode = getattr(data, "subword_labels", "first")
    names = label_names if label_names is not None else model.label_names
    inside = _b_to_i(names) if mode == "all" else None
    token_ids, sub_labels, word_starts = [], [], []
    lost = {"sentences": 0, "words": 0, "empty_words": 0, "max_length": data.max_length}
    sentences = list(split.inputs)
    for start in range(0, len(sentences), 500):
        chunk = sentences[start:start + 500]
        encoded = tokenizer(chunk, is_split_into_words=True, truncation=True, max_length=data.max_length)
        for j, words in enumerate(chunk):
            tags = split.targets[start + j]
            ids = list(encoded["input_ids"][j])
            word_ids = encoded.word_ids(j)
            starts = np.full(len(words), -1, dtype=np.int64)
            labels = np.full(len(ids), IGNORE, dtype=np.int64)
            for pos, w in enumerate(word_ids):
                if w is None:
                    continue
                first = starts[w] < 0
                if first:
                    starts[w] = pos
                if tags is not None and (first or inside is not None):
                    labels[pos] = tags[w] if first else inside[tags[w]]
            covered = [w for w in word_ids if w is not None]
            last = max(covered, default=-1)
            cut = len(words) - 1 - last
            if cut > 0:
                lost["sentences"] += 1
                lost["words"] += cut
            lost["empty_words"] += int((starts[:last + 1] < 0).sum())
            token_ids.append(ids)
            sub_labels.append(labels)
            word_starts.append(starts)
    return TokenEncodedSplit(split.targets, token_ids, sub_labels, word_starts, pad_id(tokenizer), lost)


def _b_to_i(names: Optional[list[str]]) -> np.ndarray:
    """Tag id -> the tag a later piece of the same word gets (``B-X`` -> ``I-X`` when that tag exists)."""
    names = list(names or [])
    index = {n: i for i, n in enumerate(names)}
    return np.array([index.get("I-" + n[2:], i) if n.startswith("B-") else i for i, n in enumerate(names)],
                    dtype=np.int64)


def check_words(words: list[str], tags: list, where: str) -> None:
    """A sentence's words and tags must pair up one to one."""
    if len(words) != len(tags):
        raise DataError(f"{where}: {len(words)} words but {len(tags)} tags; each word needs exactly one tag")

"""Causal-LM splits as batches: token ids with their labels, one example per row or packed.

A row of a batch holds ``input_ids``, ``attention_mask`` and ``targets`` (the labels: the token
itself where there is a loss, ``-100`` elsewhere, so the model never learns from padding or,
by default, from the prompt). With ``data.packing`` the training split is cut into rows of
up to ``max_length`` tokens that each hold several whole examples; such a batch also carries
``segment_ids`` (which example of the row a token belongs to, 0 = padding) and
``position_ids`` (restarting at 0 for each example), from which the model builds an attention
mask that never crosses examples (see :mod:`tuneforge.models.causal_lm`).

Example::

    enc = encode_lm_split(bundle.train, model, recipe.data, pack=True)
    batch = enc.batch([0, 1])       # input_ids, attention_mask, targets, segment_ids, position_ids
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from .lm_examples import IGNORE, encode_example


class LMEncodedSplit:
    """Tokenised causal-LM examples; ``packs`` (lists of example indices) make each row when packing."""

    def __init__(self, token_ids: list[list[int]], labels: list[list[int]], pad_id: int,
                 packs: Optional[list[list[int]]] = None):
        self.token_ids, self.labels, self.pad_id, self.packs = token_ids, labels, pad_id, packs
        rows = packs if packs is not None else [[i] for i in range(len(token_ids))]
        self.lengths = np.array([sum(len(token_ids[i]) for i in r) for r in rows], dtype=np.int64)
        self.targets = np.zeros(len(rows), dtype=np.float32)   # per-row placeholder (labels are per token)
        self.views = None

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def target_tokens(self) -> int:
        """Tokens that carry a loss, over the whole split."""
        return sum(sum(1 for x in lab[1:] if x != IGNORE) for lab in self.labels)

    def batch(self, indices, train: bool = False, generator=None, view=None) -> dict[str, torch.Tensor]:
        indices = np.asarray(indices, dtype=np.int64)
        rows = [self.packs[i] if self.packs is not None else [int(i)] for i in indices]
        width = max((int(self.lengths[i]) for i in indices), default=0)
        n = len(rows)
        ids = np.full((n, width), self.pad_id, dtype=np.int64)
        lab = np.full((n, width), IGNORE, dtype=np.int64)
        seg = np.zeros((n, width), dtype=np.int64)
        pos = np.zeros((n, width), dtype=np.int64)
        for j, members in enumerate(rows):
            at = 0
            for k, e in enumerate(members):
                t, y = self.token_ids[e], self.labels[e]
                ids[j, at:at + len(t)] = t
                lab[j, at:at + len(t)] = y
                lab[j, at] = IGNORE   # an example's first token is never predicted (nothing before it in it)
                seg[j, at:at + len(t)] = k + 1
                pos[j, at:at + len(t)] = np.arange(len(t))
                at += len(t)
        out = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy((seg > 0).astype(np.int64)),
               "targets": torch.from_numpy(lab)}
        if self.packs is not None:
            out["segment_ids"] = torch.from_numpy(seg)
            out["position_ids"] = torch.from_numpy(pos)
        return out


def pack_examples(lengths: list[int], max_length: int, seed: int) -> list[list[int]]:
    """Examples (shuffled by ``seed``) grouped first-fit into rows of at most ``max_length`` tokens."""
    order = np.random.default_rng(seed).permutation(len(lengths))
    packs: list[list[int]] = []
    room: list[int] = []
    for i in order:
        n = lengths[i]
        for k, free in enumerate(room):
            if n <= free:
                packs[k].append(int(i))
                room[k] -= n
                break
        else:
            packs.append([int(i)])
            room.append(max_length - n)
    return packs


def encode_lm_split(split, model, data, pack: bool = False, seed: int = 0) -> LMEncodedSplit:
    """Tokenise every example of ``split`` (see :mod:`.lm_examples`); pack them when ``pack``."""
    tokenizer = model.preprocessor
    ids, labels = [], []
    for record in split.inputs:
        t, y = encode_example(record, tokenizer, data.max_length, data.train_on_prompt)
        ids.append(t)
        labels.append(y)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    packs = pack_examples([len(t) for t in ids], data.max_length, seed) if pack else None
    return LMEncodedSplit(ids, labels, pad, packs)

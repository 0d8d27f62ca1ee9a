"""Retention measured by default: how much the fine-tuned representation still looks like the pre-trained one.

``evaluate.retention`` (``analysis/retention.py``) measures forgetting thoroughly but costs a second
model and several passes, so it is off unless asked. When it is unset, every run still gets one
cheap, label-free number: the linear CKA (Kornblith et al. 2019) between the pooled features
(the head's input) of the pre-trained and of the fine-tuned model on up to :data:`PROBE_SIZE`
examples of the test split (else validation). The pre-trained features are those the linear-probe
baseline already extracted, so the cost is one forward pass of the fine-tuned model over the
probe rows; without them (baseline off, a resumed run) a pre-trained copy is loaded to extract them.

CKA is 1 when the two representations differ only by a rotation and a scale (a linear probe,
a frozen body), and falls as fine-tuning reshapes the features. It says how far the features
moved, not whether a source task is still solved (``evaluate.retention.data`` measures that).
Search trials (lean runs) skip it.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ..evaluation import extract_features
from ..evaluation.representation import linear_cka, similarity_preservation
from ..models.precision import autocast_dtype
from .baselines import eval_split_name
from .retention import _pretrained_copy

PROBE_SIZE = 256
MEASURE = "linear CKA of the pooled features, pre-trained vs fine-tuned"
MEANING = ("1 = the fine-tuned model represents the probe examples as the pre-trained one did (up to rotation "
           "and scale); lower = fine-tuning reshaped its features")


def representation_retention(p, finetuned, device, precision: str) -> Optional[dict]:
    """The default retention dict (see the module docstring), or None when the run has no split to probe
    or its features are not one vector per example (token tasks)."""
    split = eval_split_name(p)
    if split is None or getattr(p.encoded[split], "per_example", None) is not None:
        return None
    enc, bs, dtype = p.encoded[split], p.recipe.evaluate.batch_size, autocast_dtype(precision)
    rows = np.sort(np.random.default_rng(p.recipe.train.seed).permutation(len(enc))[:PROBE_SIZE])
    before = p.features.get(split)
    if before is None:
        pretrained = _pretrained_copy(p).to(device)
        before = _features(pretrained, enc, rows, bs, device, dtype)
        del pretrained
    else:
        before = before[rows]
    after = _features(finetuned, enc, rows, bs, device, dtype)
    if before is None or after is None or before.shape != after.shape or len(rows) < 3:
        return None
    score = linear_cka(before, after)
    return {"default": True, "measure": MEASURE, "meaning": MEANING, "score": score, "feature_cka": score,
            "embedding_spearman": similarity_preservation(before, after), "probe_examples": int(len(rows)),
            "probe_source": f"{split} split"}


def _features(model, enc, rows: np.ndarray, batch_size: int, device, dtype) -> Optional[np.ndarray]:
    """Pooled features ``[len(rows), D]`` of ``model`` on ``rows`` of ``enc`` (None when not 2-D)."""
    view = _Rows(enc, rows)
    x, _ = extract_features(model, view, batch_size, device, dtype)
    return x if x.ndim == 2 and len(x) == len(rows) else None


class _Rows:
    """``enc`` restricted to ``rows`` (what :func:`extract_features` reads: len, lengths, batch)."""

    def __init__(self, enc, rows: np.ndarray):
        self.enc, self.rows = enc, rows
        lengths = getattr(enc, "lengths", None)
        self.lengths = None if lengths is None else np.asarray(lengths)[rows]

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self, indices, train: bool = False, **kwargs) -> dict[str, torch.Tensor]:
        return self.enc.batch(self.rows[np.asarray(indices)], train=train, **kwargs)

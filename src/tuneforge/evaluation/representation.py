"""Compare two models' representations: how much did fine-tuning move them?

* :func:`linear_cka`: linear centred kernel alignment (Kornblith et al., 2019) between two
  feature matrices of the same examples; 1.0 means the same representation up to a
  rotation and scale. Not in scikit-learn, hence a few lines of numpy.
* :func:`similarity_preservation`: Spearman correlation between the pairwise cosine
  similarities of the same examples' embeddings before and after.
* :func:`prediction_agreement`: share of examples on which two sets of logits pick the
  same class.
* :func:`block_features`: each block's output, mean-pooled per example, captured with
  forward hooks while the model streams over a probe set (only ``[N, D]`` per block is
  kept, never the full hidden states).

Example::

    before = block_features(pretrained, probe, blocks, 64)
    after = block_features(finetuned, probe, blocks, 64)
    {b: linear_cka(before[b], after[b]) for b in blocks}
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.metrics.pairwise import cosine_similarity


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of ``x [N, D1]`` and ``y [N, D2]`` (rows are the same examples)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x = x - x.mean(0)
    y = y - y.mean(0)
    cross = np.linalg.norm(y.T @ x, "fro") ** 2
    norm = np.linalg.norm(x.T @ x, "fro") * np.linalg.norm(y.T @ y, "fro")
    return float(cross / norm) if norm > 0 else float("nan")


def similarity_preservation(before: np.ndarray, after: np.ndarray) -> float:
    """Spearman correlation of the pairwise cosine similarities (upper triangle) before vs after."""
    iu = np.triu_indices(len(before), k=1)
    a, b = cosine_similarity(before)[iu], cosine_similarity(after)[iu]
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def prediction_agreement(logits_before: np.ndarray, logits_after: np.ndarray) -> float:
    """Fraction of examples whose arg-max class is the same."""
    return float((np.asarray(logits_before).argmax(1) == np.asarray(logits_after).argmax(1)).mean())


def _pool(out, mask) -> torch.Tensor:
    """One vector per example from a block output (tuple outputs: their first tensor)."""
    if isinstance(out, (tuple, list)):
        out = out[0]
    if hasattr(out, "last_hidden_state"):
        out = out.last_hidden_state
    out = out.float()
    if out.dim() == 4:                               # [B, C, H, W] feature maps
        return out.mean(dim=(2, 3))
    if out.dim() == 3:                               # [B, T, D] token states
        if mask is not None and mask.shape[1] == out.shape[1]:
            m = mask.unsqueeze(-1).to(out.dtype)
            return (out * m).sum(1) / m.sum(1).clamp_min(1.0)
        return out.mean(1)
    return out.reshape(out.shape[0], -1)


@torch.no_grad()
def block_features(model, encoded, modules: dict[str, str], batch_size: int, device="cpu") -> dict[str, np.ndarray]:
    """``{block name: pooled output [N, D]}`` for each ``{block name: module name in model.net}``."""
    device = torch.device(device)
    results: dict[str, list] = {b: [] for b in modules}
    current: dict = {}
    hooks = [model.net.get_submodule(m).register_forward_hook(
        lambda _mod, _inp, out, b=b: results[b].append(_pool(out, current.get("mask")).cpu().numpy()))
        for b, m in modules.items()]
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(encoded), batch_size):
            idx = np.arange(start, min(start + batch_size, len(encoded)))
            batch = {k: v.to(device) for k, v in encoded.batch(idx, train=False).items()}
            current["mask"] = batch.get("attention_mask")
            model(batch)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return {b: np.concatenate(v) for b, v in results.items() if v}


def block_modules(layer_map) -> dict[str, str]:
    """The module to hook for each embedding and body block: the block's first (root) module."""
    return {b.name: b.modules[0] for b in layer_map.blocks if b.role in ("embed", "body") and b.modules}

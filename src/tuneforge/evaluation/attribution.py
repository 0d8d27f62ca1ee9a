"""Gradient attributions through Captum: integrated gradients for tokens, Grad-CAM for CNNs.

Occlusion (:mod:`.explain`) asks "what if this piece were missing?"; these ask the gradient.
They complement each other: occlusion needs no gradients but misses interactions, integrated
gradients satisfy completeness (the scores add up to the change of the logit between a
baseline and the input), Grad-CAM shows where a CNN's last feature map looked.

* Text: Captum's ``LayerIntegratedGradients`` on the model's input embeddings, from a baseline
  where every real token is replaced by the padding token (special tokens such as ``[CLS]``
  stay), target = the predicted class's logit. A token's score is its attribution summed over
  the embedding dimensions; ``delta`` is Captum's convergence error (how far the scores' sum is
  from the logit difference).
* Images: Captum's ``LayerGradCam`` on the last convolutional feature map of the network's top
  body blocks (found by running the model once), ReLU'd. Models without one (a ViT) get none.

Captum comes with the ``explain`` extra. Without it the report still explains its examples by
occlusion and says, in one note, which pip line adds the gradient view (:data:`MISSING_NOTE`): a
default recipe asks for attributions, and a classifier should not need the extra to train.

Example::

    a = attribute_example(model, batch, target=2)
    a["method"], a["tokens"][:2]   # "integrated-gradients", [{"token": "[CLS]", "score": 0.0}, ...]
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ..extras import extra_message, has_extra

IG_STEPS = 32
MISSING_NOTE = extra_message("explain", "Gradient attributions (integrated gradients, Grad-CAM)")


def attribution_available() -> bool:
    """Whether Captum (the ``explain`` extra) is installed."""
    return has_extra("explain")


def attribute_example(model, batch: dict, target: int, tokens: Optional[list[str]] = None,
                      special: frozenset = frozenset(), steps: int = IG_STEPS) -> Optional[dict]:
    """The gradient attribution of one example (a batch of one) for class ``target``, or None
    when the model offers no sensible one or Captum is not installed (see the module docstring)."""
    if not attribution_available():
        return None
    if "input_ids" in batch:
        return integrated_gradients(model, batch, target, tokens or [], special, steps)
    if "pixel_values" in batch:
        return grad_cam(model, batch, target)
    return None


def integrated_gradients(model, batch: dict, target: int, tokens: list[str], special: frozenset,
                         steps: int = IG_STEPS) -> Optional[dict]:
    from captum.attr import LayerIntegratedGradients

    embeddings = model.net.get_input_embeddings() if hasattr(model.net, "get_input_embeddings") else None
    if embeddings is None:
        return None
    ids, mask = batch["input_ids"], batch["attention_mask"]
    names = [k for k in ("attention_mask", "token_type_ids") if k in batch]

    def forward(input_ids, *extra):
        return model({"input_ids": input_ids, **dict(zip(names, extra))}).float()

    pad = _pad_id(model)
    keep = torch.tensor([[int(t) in special for t in row] for row in ids.tolist()], device=ids.device)
    baseline = torch.where(keep | (mask == 0), ids, torch.full_like(ids, pad))
    lig = LayerIntegratedGradients(forward, embeddings)
    attr, delta = lig.attribute(ids, baselines=baseline, target=target, n_steps=steps,
                                additional_forward_args=tuple(batch[k] for k in names),
                                return_convergence_delta=True, internal_batch_size=steps)
    scores = attr.sum(dim=-1)[0].detach().float().cpu().numpy()
    length = int(mask[0].sum())
    positions = [t for t in range(length) if int(ids[0, t]) not in special]
    return {"method": "integrated-gradients", "steps": steps, "delta": round(float(delta.abs().max()), 6),
            "tokens": [{"token": tokens[t] if t < len(tokens) else str(int(ids[0, t])), "score": round(float(scores[t]), 4)}
                       for t in positions]}


def _pad_id(model) -> int:
    tok = getattr(model, "preprocessor", None)
    for name in ("pad_token_id", "unk_token_id"):
        value = getattr(tok, name, None)
        if value is not None:
            return int(value)
    return 0


def last_feature_map(model, batch: dict) -> Optional[str]:
    """Name (in ``model.net``) of the last module, in execution order, whose output is a spatial
    feature map ``[B, C, H, W]`` with H, W > 1 and that belongs to the top half of the body blocks;
    None when there is none (a transformer's patch embedding at the bottom does not count)."""
    net = model.net
    body = [b for b in model.layer_map.blocks if b.role != "head"]
    top = body[len(body) // 2:]
    allowed = {m for b in top for m in b.modules}
    prefixes = tuple(m + "." for m in allowed)
    seen: list[str] = []
    hooks = []
    for name, module in net.named_modules():
        if name and (name in allowed or name.startswith(prefixes)):
            hooks.append(module.register_forward_hook(
                lambda _m, _i, out, name=name: seen.append(name)
                if isinstance(out, torch.Tensor) and out.dim() == 4 and min(out.shape[-2:]) > 1 else None))
    try:
        with torch.no_grad():
            model(batch)
    finally:
        for h in hooks:
            h.remove()
    return seen[-1] if seen else None


def grad_cam(model, batch: dict, target: int) -> Optional[dict]:
    from captum.attr import LayerGradCam

    layer_name = last_feature_map(model, batch)
    if layer_name is None:
        return None
    layer = model.net.get_submodule(layer_name)
    cam = LayerGradCam(lambda pixel_values: model({"pixel_values": pixel_values}).float(), layer)
    heat = cam.attribute(batch["pixel_values"], target=target, relu_attributions=True)
    heat = heat[0, 0].detach().float().cpu().numpy()
    top = float(heat.max())
    return {"method": "grad-cam", "layer": layer_name,
            "heatmap": np.round(heat / top if top > 0 else heat, 4).tolist()}

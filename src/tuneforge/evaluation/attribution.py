"""Gradient attributions through Captum: integrated gradients for tokens, Grad-CAM for CNNs.

Occlusion (:mod:`.explain`) asks "what if this piece were missing?"; these ask the gradient.
They complement each other: occlusion needs no gradients but misses interactions, integrated
gradients satisfy completeness (the scores add up to the change of the logit between a
baseline and the input), Grad-CAM shows where a CNN's feature map looked.

* Text: Captum's ``LayerIntegratedGradients`` on the model's input embeddings, from a baseline
  where every real token is replaced by the padding token (special tokens such as ``[CLS]``
  stay), target = the predicted class's logit. A token's score is its attribution summed over
  the embedding dimensions; ``delta`` is Captum's convergence error (how far the scores' sum is
  from the logit difference).
* Images: Captum's ``LayerGradCam`` on the deepest feature map of the body (not the stem) that is
  at least :data:`MIN_CAM_SIDE` x :data:`MIN_CAM_SIDE` at the run's input size, among the maps at
  least :data:`MIN_CAM_STRIDE` times smaller than the input, ReLU'd (found by running the model once
  on the example). A CNN's last map shrinks with the input: EfficientNet-Lite0 at 64 px ends in a
  2x2 map, whose Grad-CAM is four nearly equal cells, a uniform square that says nothing; 7x7 is
  what it gives at its native 224 px and the occlusion grid's resolution, so at 64 px the map comes
  from its 8x8 stage instead. Earlier maps (stride under 8) respond to edges and colours rather than
  to a class, so they are never used: when no map is both fine and deep enough (an input under
  about 56 px) or the model has none (a ViT), the entry carries a ``reason`` instead of a
  ``heatmap``, and the report and the terminal say it.

Captum comes with the ``explain`` extra. Without it the report still explains its examples by
occlusion and says, in one note, which pip line adds the gradient view (:data:`MISSING_NOTE`): a
default recipe asks for attributions, and a classifier should not need the extra to train.

Example::

    a = attribute_example(model, batch, target=2)
    a["method"], a["tokens"][:2]   # "integrated-gradients", [{"token": "[CLS]", "score": 0.0}, ...]
    g = attribute_example(cnn, {"pixel_values": x}, target=0)
    g["layer"], g["size"]          # "blocks.2", [8, 8] (or g["reason"]: why there is no map)
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ..extras import extra_message, has_extra

IG_STEPS = 32
MIN_CAM_SIDE = 7     # the smallest Grad-CAM map worth drawing: a 224 px CNN's last map, the occlusion grid
MIN_CAM_STRIDE = 8   # maps less than 8 times smaller than the input (the stem, stages 1-2) see edges, not classes
MISSING_NOTE = extra_message("explain", "Gradient attributions (integrated gradients, Grad-CAM)")


def attribution_available() -> bool:
    """Whether Captum (the ``explain`` extra) is installed."""
    return has_extra("explain")


def attribute_example(model, batch: dict, target: int, tokens: Optional[list[str]] = None,
                      special: frozenset = frozenset(), steps: int = IG_STEPS) -> Optional[dict]:
    """The gradient attribution of one example (a batch of one) for class ``target``, or None
    when Captum is not installed or the input is neither tokens nor pixels. An image model always
    gets an entry: its Grad-CAM map, or the ``reason`` it has none (see the module docstring)."""
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


def spatial_maps(model, batch: dict) -> list[tuple[str, int, int]]:
    """``(name, H, W)`` of every feature map ``[B, C, H, W]`` the body and neck blocks give for
    ``batch``, in execution order. A block's outermost modules (a stage) and their children (its
    units) count, not every conv inside a unit; the stem ("embed" blocks) does not count, its edges
    and colours say nothing about a class."""
    net = model.net
    candidates: set[str] = set()
    for block in model.layer_map.blocks:
        if block.role not in ("body", "neck"):
            continue
        inside = set(block.modules)
        roots = {m for m in inside if m.rpartition(".")[0] not in inside}
        candidates |= roots | {m for m in inside if m.rpartition(".")[0] in roots}
    seen: list[tuple[str, int, int]] = []
    hooks = [module.register_forward_hook(
        lambda _m, _i, out, name=name: seen.append((name, int(out.shape[-2]), int(out.shape[-1])))
        if isinstance(out, torch.Tensor) and out.dim() == 4 else None)
        for name, module in net.named_modules() if name in candidates]
    try:
        with torch.no_grad():
            model(batch)
    finally:
        for h in hooks:
            h.remove()
    return seen


def cam_layer(model, batch: dict, min_side: int = MIN_CAM_SIDE,
              min_stride: int = MIN_CAM_STRIDE) -> tuple[Optional[str], str]:
    """The layer Grad-CAM uses for an input like ``batch``: ``(name, note)``, the deepest spatial map
    at least ``min_side`` on each side among those at least ``min_stride`` times smaller than the
    input (the note says so when it is not the last map); or ``(None, reason)`` saying why there is none."""
    maps = [m for m in spatial_maps(model, batch) if max(m[1:]) > 1]
    if not maps:
        return None, ("the model has no convolutional feature map (a transformer's patches are not one), "
                      "so there is no Grad-CAM; occlusion explains it")
    h_in, w_in = batch["pixel_values"].shape[-2:]
    deep = [m for m in maps if h_in >= min_stride * m[1]]
    which = f"deep enough to show a class (stride {min_stride} and more" if deep else "(all"
    deep = deep or maps   # a net that never shrinks its input that much: every map counts
    fine = [m for m in deep if min(m[1:]) >= min_side]
    last = maps[-1]
    if not fine:
        first = deep[0]
        need = min_side * -(-max(h_in, w_in) // min(first[1:]))
        return None, (f"at {h_in}×{w_in} px the feature maps {which}, from {first[0]} on) are at most "
                      f"{first[1]}×{first[2]}, smaller than {min_side}×{min_side}; data.image_size {need} "
                      "or more gives a Grad-CAM map")
    name, h, w = fine[-1]
    if fine[-1] == last:
        return name, ""
    return name, (f"at {h_in}×{w_in} px the last feature map ({last[0]}) is {last[1]}×{last[2]}; Grad-CAM "
                  f"uses {name} ({h}×{w}), the deepest with at least {min_side}×{min_side}: finer, "
                  f"but less specific to the class than the last map would be at a larger image_size")


def grad_cam(model, batch: dict, target: int, min_side: int = MIN_CAM_SIDE) -> dict:
    """Grad-CAM of ``target`` on :func:`cam_layer`'s layer: ``layer``, ``size`` (the map's H, W),
    ``heatmap`` (scaled to [0, 1]) and, when the layer is not the last map, a ``note``; or, when
    there is no fine enough map, ``reason`` and no heatmap."""
    from captum.attr import LayerGradCam

    layer_name, why = cam_layer(model, batch, min_side)
    if layer_name is None:
        return {"method": "grad-cam", "reason": why}
    layer = model.net.get_submodule(layer_name)
    cam = LayerGradCam(lambda pixel_values: model({"pixel_values": pixel_values}).float(), layer)
    heat = cam.attribute(batch["pixel_values"], target=target, relu_attributions=True)
    heat = heat[0, 0].detach().float().cpu().numpy()
    top = float(heat.max())
    out = {"method": "grad-cam", "layer": layer_name, "size": list(heat.shape),
           "heatmap": np.round(heat / top if top > 0 else heat, 4).tolist()}
    if why:
        out["note"] = why
    return out

"""Hugging Face vision transformers (ViT, DeiT, BEiT, DINOv2 classification models).

Blocks: ``embeddings`` (patch and position embeddings, CLS token), one block per
transformer layer (named by its path inside the backbone: ``layers.0`` in
transformers 5, ``encoder.layer.0`` in older versions) and ``head``: the final
layer norm and the new classifier.
"""
from __future__ import annotations

from typing import Optional

from torch import nn

from ..layer_map import LayerMap
from .base import base_prefix, find_module, join, stacked_map

_LAYER_PATHS = ("layers", "encoder.layer", "encoder.layers")


def vit_layer_map(net: nn.Module) -> Optional[LayerMap]:
    """The map of a ViT-like image classifier, or None when ``net`` is not one."""
    prefix = base_prefix(net)
    if not prefix or find_module(net, join(prefix, "embeddings")) is None:
        return None
    embeddings = net.get_submodule(join(prefix, "embeddings"))
    if not hasattr(embeddings, "patch_embeddings"):
        return None
    for path in _LAYER_PATHS:
        layers = find_module(net, join(prefix, path))
        if isinstance(layers, nn.ModuleList):
            return stacked_map(net, "vit", [join(prefix, "embeddings")], join(prefix, path), path)
    return None

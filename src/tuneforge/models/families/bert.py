"""BERT-like Hugging Face text encoders (BERT, RoBERTa, DistilBERT, MiniLM, ELECTRA...).

Blocks: ``embeddings``, one block per encoder layer (named by its path inside the
backbone, e.g. ``encoder.layer.0``; DistilBERT: ``transformer.layer.0``), and
``head`` holding everything else: the pre-trained pooler, if any, and the new
classifier.
"""
from __future__ import annotations

from typing import Optional

from torch import nn

from ..layer_map import LayerMap
from .base import base_prefix, find_module, join, stacked_map

# Where the stack of layers lives inside the backbone, for the encoders we know.
_LAYER_PATHS = ("encoder.layer", "transformer.layer", "encoder.layers")


def bert_layer_map(net: nn.Module) -> Optional[LayerMap]:
    """The map of a BERT-like encoder, or None when ``net`` is not one."""
    if getattr(getattr(net, "config", None), "is_decoder", False):
        return None
    prefix = base_prefix(net)
    if not prefix or find_module(net, join(prefix, "embeddings")) is None:
        return None
    if getattr(net.config, "model_type", "") in ("vit", "deit", "beit", "dinov2"):
        return None  # vision transformers have their own adapter
    for path in _LAYER_PATHS:
        layers = find_module(net, join(prefix, path))
        if isinstance(layers, nn.ModuleList):
            return stacked_map(net, "bert", [join(prefix, "embeddings")], join(prefix, path), path)
    return None

"""Per-family layer maps, tried in order, with a generic fallback last.

Adding a family means adding one file with a ``net -> LayerMap | None`` function
and one line in ``ADAPTERS``.

Example::

    layer_map = build_layer_map(net, kind="hf")
    layer_map.names()   # ['embeddings', 'encoder.layer.0', 'encoder.layer.1', 'head']
"""
from __future__ import annotations

from torch import nn

from ..layer_map import LayerMap
from .base import Adapter
from .bert import bert_layer_map
from .decoder import decoder_layer_map
from .generic import generic_layer_map
from .timm_family import timm_layer_map
from .vit import vit_layer_map
from .wav2vec2 import wav2vec2_layer_map

# kind -> adapters tried in order; the generic map is the last resort for every kind
ADAPTERS: dict[str, list[Adapter]] = {
    "hf": [wav2vec2_layer_map, vit_layer_map, bert_layer_map, decoder_layer_map],
    "timm": [timm_layer_map],
}


def build_layer_map(net: nn.Module, kind: str) -> LayerMap:
    """The ordered blocks of ``net`` (input first, head last) for a "hf" or "timm" network."""
    for adapter in ADAPTERS.get(kind, []):
        layer_map = adapter(net)
        if layer_map is not None:
            return layer_map
    return generic_layer_map(net)


__all__ = ["build_layer_map", "ADAPTERS"]

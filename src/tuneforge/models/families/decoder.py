"""Hugging Face decoder-only language models (Llama, Mistral, Qwen, GPT-2, GPT-Neo...).

Blocks: ``embeddings`` (token embeddings, plus learned positions where the model
has them: GPT-2's ``wpe``), one block per decoder layer (``layers.0``... for
Llama-like models, ``h.0``... for GPT-2-like ones) and ``head``: the final norm
and the new ``score`` layer (or ``lm_head``).
"""
from __future__ import annotations

from typing import Optional

from torch import nn

from ..layer_map import LayerMap
from .base import base_prefix, find_module, join, stacked_map

# (embedding module names, layer stack name) inside the backbone
_LAYOUTS = ((("embed_tokens",), "layers"), (("wte", "wpe"), "h"), (("embed_in",), "layers"))


def decoder_layer_map(net: nn.Module) -> Optional[LayerMap]:
    """The map of a decoder-only model, or None when ``net`` is not one."""
    prefix = base_prefix(net)
    if not prefix:
        return None
    for embeds, stack in _LAYOUTS:
        layers = find_module(net, join(prefix, stack))
        present = [e for e in embeds if find_module(net, join(prefix, e)) is not None]
        if isinstance(layers, nn.ModuleList) and present and present[0] == embeds[0]:
            family = getattr(net.config, "model_type", "decoder") or "decoder"
            return stacked_map(net, family, [join(prefix, e) for e in present], join(prefix, stack), stack)
    return None

"""Speech encoders of the wav2vec2 kind (wav2vec2, HuBERT, WavLM, Data2Vec-audio, UniSpeech, SEW).

Blocks, input first:

* ``feature_encoder``: the convolutional stack that turns the raw waveform into frames
  (``feature_extractor`` in transformers). Fine-tuning recipes for these models keep it
  frozen (``strategy.freeze_feature_encoder``, on by default for this family: see
  ``strategies/defaults.py``), so it is a block of its own.
* ``feature_projection``: the projection of the frames to the model width, the positional
  convolution, the learnt mask embedding and (post-norm models) the encoder's input norm.
* ``encoder.layers.0`` ... ``encoder.layers.{n-1}``: the transformer layers.
* ``encoder.layer_norm`` (pre-norm, "stable layer norm" models only): the final norm, a neck.
* ``head``: the projector, the classifier (and the layer weights of a weighted layer sum).
"""
from __future__ import annotations

from typing import Optional

from torch import nn

from ..layer_map import FEATURE_ENCODER, LayerMap
from .base import assemble, base_prefix, find_module, join, params_under


def wav2vec2_layer_map(net: nn.Module) -> Optional[LayerMap]:
    """The map of a wav2vec2-like audio classifier, or None when ``net`` is not one."""
    prefix = base_prefix(net)
    convs = find_module(net, join(prefix, "feature_extractor", "conv_layers")) if prefix else None
    layers = find_module(net, join(prefix, "encoder", "layers"))
    if convs is None or not isinstance(layers, nn.ModuleList):
        return None
    stable = bool(getattr(net.config, "do_stable_layer_norm", False))
    under = lambda *path: params_under(net, join(prefix, *path))  # noqa: E731
    projection = (under("feature_projection") + under("masked_spec_embed") + under("encoder", "pos_conv_embed")
                  + ([] if stable else under("encoder", "layer_norm")))
    groups = [(FEATURE_ENCODER, "embed", under("feature_extractor")), ("feature_projection", "embed", projection)]
    groups += [(f"encoder.layers.{i}", "body", under("encoder", "layers", str(i))) for i in range(len(layers))]
    if stable:
        groups.append(("encoder.layer_norm", "neck", under("encoder", "layer_norm")))
    taken = {p for _, _, ps in groups for p in ps}
    groups.append(("head", "head", [n for n, _ in net.named_parameters() if n not in taken]))
    return assemble(net, "wav2vec2", groups)

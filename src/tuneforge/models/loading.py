"""From a recipe's ``model`` section to a TaskModel (or, cheaply, to its shape).

``model.name`` is tried, in order, as:

1. a registered alias (``tuneforge list models``): ``minilm-l6``, ``efficientnet-lite0``;
2. ``timm:NAME``: a timm architecture, filled from ``model.weights``;
3. a local folder: a Hugging Face folder (config.json + weights), or a timm folder
   saved by tuneforge (config.json with ``architecture`` + model.safetensors);
4. a Hugging Face hub id, taken from the local cache; downloaded only when the hub
   can be reached and ``HF_HUB_OFFLINE`` is not set.

Example::

    model = load_task_model(ModelSection(name="minilm-l6"), "text", num_outputs=3,
                            label_names=["neg", "neu", "pos"], regression=False)
"""
from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, Optional

import torch

from ..errors import ModelError
from ..recipe.schema import ModelSection
from .aliases import MODELS, ModelSpec, resolve_alias
from .families import build_layer_map
from .hf_loading import (check_folder, hf_auto, hf_modality, load_hf, model_pooling, new_head_modules, quiet_transformers,
                         read_config,
                         refuse_remote_code)
from .pooling import checkpoint_keys, has_pooler_keys, resolve_image_pooling, timm_pooling
from .task_model import TaskModel
from .timm_loading import check_arch, load_timm

HUB_HOST = ("huggingface.co", 443)


@dataclass(frozen=True)
class ModelInfo:
    """The shape of a model, known without loading its weights (shared: :func:`peek_model` caches it).

    ``num_body_blocks`` counts the repeated blocks only (encoder or decoder layers,
    timm stages), not the embeddings/stem, neck or head; ``block_names`` lists every
    block of the layer map, input first, head last.
    """

    modality: Optional[str]
    family: str
    kind: str
    num_body_blocks: int
    block_names: list[str]
    pooling: Optional[str] = None          # the resolved model.pooling, and why
    pooling_source: Optional[str] = None


def _offline() -> bool:
    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return flag in ("1", "true", "yes", "on")


def _hub_reachable(timeout: float = 3.0) -> bool:
    try:
        socket.create_connection(HUB_HOST, timeout=timeout).close()
        return True
    except OSError:
        return False


def resolve(section: ModelSection, peek: bool = False) -> tuple[ModelSpec, bool]:
    """The spec ``section.name`` points to, and whether it must come from the local files only."""
    name = section.name.strip()
    spec = resolve_alias(name, peek=peek)
    by_order = section.weights_match == "order"
    _check_order(section)
    if spec is not None and section.weights:
        spec = replace(spec, weights=section.weights, key_order=by_order)
    if spec is None and name.startswith("timm:"):
        arch = name[len("timm:"):].strip()
        check_arch(arch, name)
        spec = ModelSpec(kind="timm", path=arch, modality="image", weights=section.weights, key_order=by_order)
    if spec is not None:
        if spec.kind == "hf":
            _refuse_order(section)
        if spec.kind == "hf" and section.weights:
            raise ModelError(f"model.weights is set but {name!r} is a Hugging Face model, whose weights come "
                             "from its folder; remove model.weights or set model.name to a folder")
        return spec, True
    folder = Path(name).expanduser()
    if folder.is_dir():
        config = folder / "config.json"
        arch = _timm_architecture(config)
        if arch:
            return ModelSpec(kind="timm", path=arch, modality="image",
                             weights=section.weights or str(folder / "model.safetensors"),
                             key_order=by_order and bool(section.weights)), True
        check_folder(folder, name, section.trust_remote_code)
        _refuse_order(section)
        if section.weights:
            raise ModelError(f"model.weights is set but {name!r} is a Hugging Face folder, whose weights are "
                             "read from the folder; remove model.weights")
        return ModelSpec(kind="hf", path=str(folder), modality="text"), True
    if folder.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name:
        raise ModelError(f"model.name {name!r} is not a folder (nor a registered alias); give a folder "
                         f"holding config.json and the weights, or one of: {', '.join(MODELS.names())}")
    _refuse_order(section)
    return ModelSpec(kind="hf", path=name, modality="text"), _hub_local_only(name, section.trust_remote_code)


def _check_order(section: ModelSection) -> None:
    """``weights_match: order`` needs a file that keeps its tensors' order (not safetensors)."""
    weights = str(section.weights or "")
    if section.weights_match == "order" and weights.lower().endswith(".safetensors"):
        raise ModelError(f"model {section.name!r}: model.weights_match: order needs the tensors in the order they "
                         f"were saved, and a .safetensors file does not keep it ({weights!r}); give the .pth/.bin "
                         "checkpoint, or match by names")


def _refuse_order(section: ModelSection) -> None:
    """``weights_match: order`` applies to a timm model's ``model.weights`` only."""
    if section.weights_match == "order":
        raise ModelError(f"model.weights_match: order matches the tensors of model.weights to a timm architecture "
                         f"by position, but {section.name!r} is a Hugging Face model, whose weights come from its "
                         "folder by name; remove model.weights_match")


def _timm_architecture(config: Path) -> Optional[str]:
    if not config.is_file():
        return None
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("architecture") if isinstance(data, dict) and "model_type" not in data else None


def _hub_local_only(name: str, trust_remote_code: bool) -> bool:
    """True when hub id ``name`` is in the local cache; False when it may be downloaded; else ModelError."""
    from huggingface_hub import try_to_load_from_cache
    from transformers import AutoConfig
    try:
        cached = try_to_load_from_cache(name, "config.json")
    except ValueError:  # not a valid hub id at all
        raise ModelError(f"model.name {name!r} is not a registered alias, a local folder, a timm: name or a valid "
                         f"Hugging Face hub id (namespace/name); use an alias: {', '.join(MODELS.names())}") from None
    refuse_remote_code(cached if isinstance(cached, str) else None, name, trust_remote_code)
    try:
        with quiet_transformers():
            AutoConfig.from_pretrained(name, local_files_only=True, trust_remote_code=trust_remote_code)
        return True
    except (OSError, ValueError):
        pass
    if _offline() or not _hub_reachable():
        why = "HF_HUB_OFFLINE is set" if _offline() else "the Hugging Face hub cannot be reached"
        raise ModelError(
            f"model.name {name!r} is not a registered alias, a local folder or a timm: name, so it was taken "
            f"as a Hugging Face hub id, but no local weights were found for it and {why} (no network access). "
            f"Download it where there is network and set model.name to the local folder, or use an alias: "
            f"{', '.join(MODELS.names())}")
    return False


def load_task_model(section: ModelSection, modality: Literal["text", "image", "audio"], num_outputs: int,
                    label_names: Optional[list[str]], regression: bool, image_size: Optional[int] = None,
                    keep_head: bool = False, problem_type: Optional[str] = None,
                    auto_class: Optional[str] = None) -> TaskModel:
    """Load the pre-trained model of ``section`` with a new head of ``num_outputs`` outputs.

    ``image_size`` overrides the model's input size (images); ``keep_head=True`` keeps the
    checkpoint's own classifier (it must have ``num_outputs`` outputs) instead of a fresh one.
    ``problem_type`` (transformers' ``config.problem_type``, from the task) overrides the one
    ``regression`` implies; ``auto_class`` (e.g. ``"AutoModelForSequenceClassification"``, from the
    task) names the transformers class that builds the network (default: by modality).
    """
    if num_outputs < 1:
        raise ModelError(f"the task needs at least one output, got num_outputs={num_outputs}")
    spec, local_only = resolve(section)
    if spec.kind == "timm":
        return load_timm(spec.path, spec.weights, section.name, modality, num_outputs, image_size,
                         section.dropout, keep_head, key_order=spec.key_order, size=spec.size,
                         mean=spec.mean, std=spec.std, label_names=label_names, pooling=section.pooling)
    try:
        return load_hf(spec.path, section.name, modality, num_outputs, label_names, regression, image_size,
                       section.dropout, section.trust_remote_code, keep_head, local_only, section.pooling,
                       problem_type, auto_class)
    except OSError as e:
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"model.name {section.name!r} could not be loaded: {text}") from None


def peek_model(section: ModelSection) -> ModelInfo:
    """The modality and layer map of ``section``'s model, without reading its weights.

    The network is built on PyTorch's meta device (shapes only, no memory, no weights),
    so this is cheap enough for ``tuneforge validate``. Raises ModelError when the name
    cannot be resolved.
    """
    spec, local_only = resolve(section, peek=True)
    key = (section.model_dump_json(), str(spec.path), _mtime(spec.path))
    if key not in _PEEKED:   # validation, then the run, each ask: the meta-device build costs ~1 s
        _PEEKED[key] = _peek(section, spec, local_only)
    return _PEEKED[key]


_PEEKED: dict[tuple, "ModelInfo"] = {}


def _mtime(path) -> Optional[float]:
    """The model folder's config.json time (a folder rewritten in place is peeked again), else None."""
    try:
        return (Path(path) / "config.json").stat().st_mtime
    except (OSError, TypeError):
        return None


def _peek(section: ModelSection, spec: ModelSpec, local_only: bool) -> ModelInfo:
    if spec.kind == "timm":
        import timm
        with torch.device("meta"):
            net = timm.create_model(spec.path, pretrained=False, num_classes=2)
        modality, kind = "image", "timm"
        choice = resolve_image_pooling(section.pooling, *timm_pooling(net), section.name)
    else:
        try:
            with quiet_transformers():
                config = read_config(spec.path, local_files_only=local_only,
                                                    trust_remote_code=section.trust_remote_code)
        except (OSError, ValueError) as e:
            raise ModelError(f"model.name {section.name!r}: its config.json could not be read ({e})") from None
        config.num_labels = 2
        modality, kind = hf_modality(config), "hf"
        auto = hf_auto(modality)
        try:
            with quiet_transformers(), torch.device("meta"):
                net = auto.from_config(config, trust_remote_code=section.trust_remote_code)
        except (ValueError, KeyError) as e:
            raise ModelError(f"model.name {section.name!r}: no classification model can be built from its "
                             f"config ({e})") from None
        keys = checkpoint_keys(spec.path)
        choice = model_pooling(net, new_head_modules(net), modality or "text", section.name, section.pooling,
                               spec.path, None if keys is None else has_pooler_keys(keys))
    layer_map = build_layer_map(net, kind)
    return ModelInfo(modality=modality, family=layer_map.family, kind=kind,
                     num_body_blocks=layer_map.num_body_blocks, block_names=layer_map.names(),
                     pooling=choice.how, pooling_source=choice.source)

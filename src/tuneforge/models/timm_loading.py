"""Load a timm architecture from a local weights file, with a fresh task head.

timm's own download path needs the hub, so tuneforge builds the architecture with
``pretrained=False`` and loads the user's file itself: every backbone tensor must
be there with the right shape (strict), the classifier is dropped and built anew
for the task (``keep_head=True`` keeps the file's classifier instead).
"""
from __future__ import annotations

import sys
from typing import Optional

import torch
from torch import nn

from ..errors import ModelError
from ..registry import did_you_mean
from .families import build_layer_map
from .families.timm_family import classifier_names
from .pooling import resolve_image_pooling, timm_pooling
from .task_model import ImageSpec, TaskModel
from .weights import read_state_dict


def check_arch(arch: str, name: str) -> None:
    import timm
    if not timm.is_model(arch):
        raise ModelError(f"model.name {name!r}: timm has no architecture {arch!r}"
                         f"{did_you_mean(arch, timm.list_models())}; see timm.list_models()")


def _is_classifier(key: str, classifiers: list[str]) -> bool:
    return any(key.startswith(c + ".") for c in classifiers)


COUNTER = "num_batches_tracked"   # BatchNorm's step counter: a plain integer, absent from many checkpoints


def _is_counter(key: str) -> bool:
    return key.rsplit(".", 1)[-1] == COUNTER


def _is_count(key: str, value: torch.Tensor) -> bool:
    """A step counter, whatever the file calls it: BatchNorm's, or any integer scalar."""
    return _is_counter(key) or (value.ndim == 0 and not value.is_floating_point())


def _by_order(state: dict, arch: str, name: str) -> dict:
    """Rename a checkpoint's tensors to timm's names by position (``model.weights_match: order``).

    Counters (integer scalars: BatchNorm's ``num_batches_tracked``) are left out on both sides
    (a checkpoint may hold them or not), every
    other tensor must line up with the architecture's, shape for shape; the first that does not
    is named. The counters are then filled by :func:`_fit`.
    """
    import timm
    with torch.device("meta"):
        ref = {k: v for k, v in timm.create_model(arch, pretrained=False).state_dict().items() if not _is_count(k, v)}
    mine = {k: v for k, v in state.items() if not _is_count(k, v)}
    what = f"model {name!r}: matching model.weights to {arch!r} by order"
    for i, ((rk, rv), (k, v)) in enumerate(zip(ref.items(), mine.items())):
        if rv.shape != v.shape:
            raise ModelError(f"{what}: tensor {i} of the file, {k!r} {tuple(v.shape)}, does not have the shape of "
                             f"{arch}'s tensor {i}, {rk!r} {tuple(rv.shape)}; the file is not this architecture in "
                             "the same order, so match by names or use weights saved from that architecture")
    if len(ref) != len(mine):
        raise ModelError(f"{what}: the file holds {len(mine)} tensors and {arch!r} {len(ref)} (BatchNorm "
                         f"{COUNTER} counters not counted); the first {min(len(ref), len(mine))} line up, so the "
                         f"file is {'a larger' if len(mine) > len(ref) else 'a smaller'} network or has extra tensors")
    return dict(zip(ref.keys(), mine.values()))


def _head_size(state: dict, classifiers: list[str]) -> Optional[int]:
    for c in classifiers:
        w = state.get(f"{c}.weight")
        if w is not None:
            return int(w.shape[0])
    return None


def _fit(net: nn.Module, state: dict, classifiers: list[str], keep_head: bool, name: str, weights: str) -> None:
    """Load ``state`` into ``net`` strictly (except the classifier when it is new).

    BatchNorm ``num_batches_tracked`` counters the file lacks are filled with the model's own (0):
    they only count training steps, and matter only to a BatchNorm without momentum."""
    own = net.state_dict()
    wanted = {k for k in own if keep_head or not _is_classifier(k, classifiers)}
    state = {**{k: own[k] for k in wanted if _is_counter(k) and k not in state}, **state}  # fill the counters
    missing = sorted(wanted - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(k for k in wanted & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or shapes:
        details = []
        if missing:
            details.append(f"{len(missing)} tensors missing (e.g. {missing[0]})")
        if unexpected:
            details.append(f"{len(unexpected)} unknown tensors (e.g. {unexpected[0]})")
        if shapes:
            k = shapes[0]
            details.append(f"{len(shapes)} of another shape (e.g. {k}: {tuple(state[k].shape)} in the file, "
                           f"{tuple(own[k].shape)} in the model)")
        raise ModelError(f"model.weights {weights!r} does not fit the timm architecture of {name!r}: "
                         f"{'; '.join(details)}; use weights saved from that exact architecture")
    net.load_state_dict({k: state[k] for k in wanted}, strict=False)


def load_timm(arch: str, weights: Optional[str], name: str, modality: str, num_outputs: int,
              image_size: Optional[int], dropout: Optional[float], keep_head: bool, key_order: bool = False,
              size: Optional[int] = None, mean=None, std=None, label_names: Optional[list[str]] = None,
              pooling: str = "auto") -> TaskModel:
    """Build ``arch`` with ``num_outputs`` outputs and fill it from ``weights``.

    ``pooling`` (``model.pooling``) must be ``auto`` or the model's own global pool.
    """
    import timm
    from timm.data import resolve_model_data_config

    check_arch(arch, name)
    if modality != "image":
        raise ModelError(f"model.name {name!r} is a timm image model but the task's inputs are {modality}; "
                         "pick a text model")
    if not weights:
        raise ModelError(f"model.name {name!r}: a timm model needs a local weights file; set model.weights "
                         "to a .safetensors or .pth file (timm's hub download is not used)")
    state = read_state_dict(weights, "model.weights")
    if key_order:
        state = _by_order(state, arch, name)
    kwargs: dict = {}
    if dropout is not None:
        kwargs["drop_rate"] = dropout
    with torch.device("meta"):
        probe = timm.create_model(arch, pretrained=False)
    choice = resolve_image_pooling(pooling, *timm_pooling(probe), name)
    classifiers = classifier_names(probe)
    native = int(probe.pretrained_cfg.get("input_size", (3, 224, 224))[-1])
    resize = bool(image_size and image_size != native and probe.pretrained_cfg.get("fixed_input_size"))
    if resize:
        kwargs["img_size"] = image_size
    if keep_head:
        found = _head_size(state, classifiers)
        if found is not None and found != num_outputs:
            raise ModelError(f"model.name {name!r}: keeping its own head gives {found} outputs but the task "
                             f"needs {num_outputs}")
    net = timm.create_model(arch, pretrained=False, num_classes=num_outputs, **kwargs)
    if resize:  # position embeddings learnt at another size: let timm's own filter resample them
        filter_fn = getattr(sys.modules[type(net).__module__], "checkpoint_filter_fn", None)
        if filter_fn is not None:
            state = filter_fn(state, net)
    _fit(net, state, classifiers, keep_head, name, weights)
    net.eval()

    data = resolve_model_data_config(net)
    spec = ImageSpec(int(image_size or size or data["input_size"][-1]),
                     tuple(mean or data["mean"]), tuple(std or data["std"]))
    head = classifiers[0]
    head_linear = head if isinstance(net.get_submodule(head), nn.Linear) else None
    names = list(label_names) if label_names and len(label_names) == num_outputs else None
    return TaskModel(net, build_layer_map(net, "timm"), "timm", "image", spec, name, num_outputs,
                     head_linear=head_linear, label_names=names, pooling=choice)

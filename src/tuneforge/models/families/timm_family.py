"""Any timm model, grouped by timm's own ``group_matcher``.

timm models describe their layout with ``model.group_matcher(coarse=True)``: a
regex for the stem and regexes that give each stage an ordinal. We use the coarse
grouping, so a body block is a *stage* (``blocks.0`` of an EfficientNet,
``layer1`` of a ResNet, ``stages.0`` of a ConvNeXt, ``blocks.3`` of a ViT, whose
stages are its blocks). Blocks, input first:

* ``stem``: what the matcher calls the stem (``conv_stem``/``bn1``, ``patch_embed``...);
* one block per stage, named by the module path its parameters share;
* ``neck``: everything between the last stage and the classifier (``conv_head``/``bn2``,
  a final ``norm``, ConvNeXt's ``head.norm``): parameters timm puts after the stages;
* ``head``: exactly the classifier, ``pretrained_cfg["classifier"]``.
"""
from __future__ import annotations

import math
import re
from typing import Callable, Optional, Union

from torch import nn

from ..layer_map import LayerMap
from .base import assemble, params_under

_PREV = 99999  # timm's MATCH_PREV_GROUP: "belongs with the group before"


def classifier_names(net: nn.Module) -> list[str]:
    """Module paths of a timm model's classifier(s) (two for distilled models)."""
    cfg = getattr(net, "pretrained_cfg", None) or getattr(net, "default_cfg", None) or {}
    names = cfg.get("classifier") or "head"
    return [names] if isinstance(names, str) else list(names)


def _ordinal_fn(matcher: Union[dict, Callable]) -> Callable[[str], tuple[tuple, str]]:
    """A parameter name -> (sortable ordinal tuple, matched text) function.

    The ordinals are those of timm's ``group_with_matcher``; the matched text
    ("blocks.3", "layer1") names the block. Unmatched names get an infinite ordinal.
    """
    if callable(matcher):
        def from_callable(name: str) -> tuple[tuple, str]:
            o = matcher(name)
            return (tuple(o) if isinstance(o, (tuple, list)) else (o,)), ""
        return from_callable
    compiled = []
    for index, spec in enumerate(matcher.values()):
        if spec is None:
            continue
        for regex, suffix in (spec if isinstance(spec, (tuple, list)) else [(spec, None)]):
            compiled.append((re.compile(regex), index, suffix))

    def from_dict(name: str) -> tuple[tuple, str]:
        for regex, index, suffix in compiled:
            m = regex.match(name)
            if m:
                groups = tuple(float(g) for g in m.groups() if g is not None)
                return (float(index),) + groups + tuple(float(s) for s in (suffix or ())), m.group(0).strip(".")
        return (math.inf,), ""
    return from_dict


def _common_path(names: list[str]) -> str:
    """The longest module path shared by parameter names ('blocks.0' for 'blocks.0.*')."""
    parts = [n.split(".")[:-1] for n in names]
    common = parts[0]
    for p in parts[1:]:
        k = 0
        while k < min(len(common), len(p)) and common[k] == p[k]:
            k += 1
        common = common[:k]
    return ".".join(common)


def timm_layer_map(net: nn.Module) -> Optional[LayerMap]:
    """The map of a timm model, or None when it has no ``group_matcher``."""
    if not hasattr(net, "group_matcher") or not hasattr(net, "pretrained_cfg"):
        return None
    try:
        matcher = net.group_matcher(coarse=True)
    except NotImplementedError:
        return None
    head = [p for c in classifier_names(net) for p in params_under(net, c)]
    head_set = set(head)
    ordinal = _ordinal_fn(matcher)
    stem_index = float(list(matcher).index("stem")) if isinstance(matcher, dict) and "stem" in matcher else None

    keyed, label = [], {}
    for n, _ in net.named_parameters():
        if n not in head_set:
            key, text = ordinal(n)
            keyed.append((key, n))
            label.setdefault(key, text)
    keys = sorted({k for k, _ in keyed})
    is_tail = [k[0] == math.inf or k[-1] == _PREV for k in keys]
    # the neck: trailing "after the stages" keys; a MATCH_PREV key followed by more
    # stages joins the stage before it, as timm does
    last_body = max((i for i, t in enumerate(is_tail) if not t), default=-1)
    group_of: dict[tuple, str] = {}
    stages: list[tuple] = []
    for i, k in enumerate(keys):
        if i > last_body:
            group_of[k] = "neck"
        elif stem_index is not None and k[0] == stem_index:
            group_of[k] = "stem"
        elif is_tail[i] and stages:
            group_of[k] = group_of[stages[-1]]
        else:
            group_of[k] = f"stage{len(stages)}"
            stages.append(k)
    if not stages:
        return None

    members: dict[str, list[str]] = {}
    for k, n in keyed:
        members.setdefault(group_of[k], []).append(n)
    groups = [("stem", "embed", members.get("stem", []))]
    for k in stages:
        names = members[group_of[k]]
        text = label.get(k, "")
        name = text if text and all(n.startswith(text + ".") for n in names) else _common_path(names)
        groups.append((name or group_of[k], "body", names))
    groups += [("neck", "neck", members.get("neck", [])), ("head", "head", head)]
    return assemble(net, "timm", groups)

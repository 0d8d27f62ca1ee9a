"""Shared machinery of the family adapters: turn "which parameter goes where" into a LayerMap.

An adapter only decides, for its family, the ordered block names, their roles and
which parameters each holds. :func:`assemble` then checks that every parameter of
the network landed in exactly one block (an unassigned parameter is a bug in the
adapter, not the user's problem, so it raises ``AssertionError``) and lists the
modules of each block.
"""
from __future__ import annotations

from typing import Callable, Optional

from torch import nn

from ..layer_map import Block, LayerMap

# An adapter looks at a network and returns its LayerMap, or None when it is not its family.
Adapter = Callable[[nn.Module], Optional[LayerMap]]


def assemble(net: nn.Module, family: str, groups: list[tuple[str, str, list[str]]]) -> LayerMap:
    """Build a LayerMap from ``(block name, role, parameter names)`` triples, input first.

    Empty groups are dropped. A module belongs to a block when all of its parameters do;
    a module without parameters (an activation, a BatchNorm without affine) follows its
    parent.
    """
    groups = [g for g in groups if g[2]]
    owner: dict[str, int] = {}
    for i, (name, _role, params) in enumerate(groups):
        for p in params:
            assert p not in owner, f"{family} layer map: parameter {p} is in two blocks"
            owner[p] = i
    all_params = [n for n, _ in net.named_parameters()]
    missing = [p for p in all_params if p not in owner]
    assert not missing, f"{family} layer map: parameters in no block: {missing[:5]}"
    extra = set(owner) - set(all_params)
    assert not extra, f"{family} layer map: unknown parameters {sorted(extra)[:5]}"

    blocks = [Block(name=name, params=list(params), role=role) for name, role, params in groups]
    module_block: dict[str, Optional[int]] = {}
    for mname, module in net.named_modules():
        if not mname:
            continue
        idx = {owner[f"{mname}.{p}"] for p, _ in module.named_parameters() if f"{mname}.{p}" in owner}
        if len(idx) == 1:
            module_block[mname] = idx.pop()
        elif not idx and not any(True for _ in module.parameters()):
            parent = mname.rpartition(".")[0]
            module_block[mname] = module_block.get(parent) if parent else None
        else:
            module_block[mname] = None  # a container spanning several blocks
        if module_block[mname] is not None:
            blocks[module_block[mname]].modules.append(mname)
    return LayerMap(family=family, blocks=blocks)


def params_under(net: nn.Module, prefix: str) -> list[str]:
    """Names of the parameters of ``net`` that live under the module path ``prefix``."""
    return [n for n, _ in net.named_parameters() if n == prefix or n.startswith(prefix + ".")]


def find_module(net: nn.Module, path: str) -> Optional[nn.Module]:
    try:
        return net.get_submodule(path)
    except AttributeError:
        return None


def stacked_map(net: nn.Module, family: str, embed_paths: list[str], layers_path: str,
                layer_name: str) -> LayerMap:
    """The map of a transformer stack: embeddings, one block per layer, and the rest as head.

    ``embed_paths`` and ``layers_path`` are module paths inside ``net``; ``layer_name`` is
    the name the blocks get (``"encoder.layer"`` -> ``"encoder.layer.0"``...).
    """
    layers = net.get_submodule(layers_path)
    groups: list[tuple[str, str, list[str]]] = []
    taken: set[str] = set()
    embed = [p for path in embed_paths for p in params_under(net, path)]
    groups.append(("embeddings", "embed", embed))
    taken.update(embed)
    for i in range(len(layers)):
        ps = params_under(net, f"{layers_path}.{i}")
        groups.append((f"{layer_name}.{i}", "body", ps))
        taken.update(ps)
    rest = [n for n, _ in net.named_parameters() if n not in taken]
    groups.append(("head", "head", rest))
    return assemble(net, family, groups)


def base_prefix(net: nn.Module) -> str:
    """The module path of a Hugging Face model's backbone ("bert", "model"...), or ''."""
    prefix = getattr(net, "base_model_prefix", "") or ""
    return prefix if prefix and find_module(net, prefix) is not None else ""


def join(*parts: str) -> str:
    return ".".join(p for p in parts if p)

"""Fallback for networks no family adapter knows: one block per top-level child.

The children of the network, in registration order, each become a block named
after the child; the last child that has parameters is the head, the first is
marked "embed" and the rest "body". Parameters registered directly on the root
module join the first block. Crude, but every parameter still lands in exactly
one block, so every strategy works, if less finely.
"""
from __future__ import annotations

from torch import nn

from ..layer_map import LayerMap
from .base import assemble, params_under


def generic_layer_map(net: nn.Module) -> LayerMap:
    """The map of any network (never None)."""
    children = [(name, params_under(net, name)) for name, _ in net.named_children()]
    children = [(name, ps) for name, ps in children if ps]
    own = [n for n, _ in net.named_parameters(recurse=False)]
    if not children:
        return assemble(net, "generic", [("head", "head", own)])
    groups = []
    for i, (name, ps) in enumerate(children):
        role = "head" if i == len(children) - 1 else ("embed" if i == 0 and len(children) > 2 else "body")
        groups.append((name, role, ps))
    first = groups[0]
    groups[0] = (first[0], first[1], own + first[2])
    return assemble(net, "generic", groups)

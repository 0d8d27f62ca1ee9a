"""Parameter groups: the common currency between strategies and the trainer.

Groups are built once, before step 0: one per (block of the layer map, decayed or not).
Biases and normalisation weights (tensors of one dimension) never get weight decay.
A strategy's stages then only switch groups on or off and scale their learning rate,
so the optimizer is never rebuilt mid-run and a resumed run continues the same schedule.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from ..models.layer_map import LayerMap


@dataclass
class ParamGroup:
    name: str                       # "<block name>" or "<block name> (no decay)"
    block: int                      # index in the layer map
    decay: bool                     # True: weight decay applies
    param_names: list[str] = field(default_factory=list)
    params: list[nn.Parameter] = field(default_factory=list, repr=False)

    @property
    def numel(self) -> int:
        return sum(p.numel() for p in self.params)


def is_no_decay(name: str, param: nn.Parameter) -> bool:
    return param.ndim <= 1 or name.endswith(".bias")


def build_param_groups(net: nn.Module, layer_map: LayerMap) -> list[ParamGroup]:
    """Split every parameter of ``net`` into groups ordered from input to head."""
    block_of = layer_map.block_of()
    groups: dict[tuple[int, bool], ParamGroup] = {}
    missing = []
    for name, param in net.named_parameters():
        if name not in block_of:
            missing.append(name)
            continue
        b = block_of[name]
        decay = not is_no_decay(name, param)
        key = (b, decay)
        if key not in groups:
            bname = layer_map.blocks[b].name
            groups[key] = ParamGroup(bname if decay else f"{bname} (no decay)", b, decay)
        groups[key].param_names.append(name)
        groups[key].params.append(param)
    if missing:
        raise RuntimeError(f"layer map of family {layer_map.family!r} misses parameters: {missing[:5]}")
    return [groups[k] for k in sorted(groups, key=lambda k: (k[0], not k[1]))]

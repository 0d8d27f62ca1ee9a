"""Parameter groups: the common currency between strategies and the trainer.

Groups are built once, before step 0: one per (block of the layer map, decayed or not).
Biases and normalisation weights (tensors of one dimension) never get weight decay.
Parameters that an adapter method (peft: LoRA, IA3, LoHa...) added, and the head copy peft
trains (``modules_to_save``), form groups of their own, of kind "adapter", so that a stage
can train them while the base weights of the same block stay frozen.
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
    kind: str = "base"              # "base", or "adapter" for parameters a peft method added


    @property
    def numel(self) -> int:
        return sum(p.numel() for p in self.params)


# name segments peft gives the parameters it adds (and the trainable copy of a saved module; prompt_encoder.:
# the virtual tokens of prompt and prefix tuning)
ADAPTER_MARKERS = ("lora_", "ia3_", "hada_", "lokr_", "vera_", "oft_", "boft_", "modules_to_save.",
                   "prompt_encoder.")


def is_no_decay(name: str, param: nn.Parameter) -> bool:
    # IA3 vectors are learnt scales starting at 1: decaying them towards 0 would be wrong
    return param.ndim <= 1 or name.endswith(".bias") or ".ia3_l" in name


def param_kind(name: str) -> str:
    """"adapter" for a parameter added by a peft method (or peft's trainable head copy), else "base"."""
    return "adapter" if any(f".{m}" in name or name.startswith(m) for m in ADAPTER_MARKERS) else "base"


def build_param_groups(net: nn.Module, layer_map: LayerMap) -> list[ParamGroup]:
    """Split every parameter of ``net`` into groups ordered from input to head."""
    block_of = layer_map.block_of()
    groups: dict[tuple[int, str, bool], ParamGroup] = {}
    missing = []
    for name, param in net.named_parameters():
        if name not in block_of:
            missing.append(name)
            continue
        b = block_of[name]
        decay = not is_no_decay(name, param)
        kind = param_kind(name)
        key = (b, kind, decay)
        if key not in groups:
            tags = ([] if kind == "base" else [kind]) + ([] if decay else ["no decay"])
            bname = layer_map.blocks[b].name
            groups[key] = ParamGroup(bname + (f" ({', '.join(tags)})" if tags else ""), b, decay, kind=kind)
        groups[key].param_names.append(name)
        groups[key].params.append(param)
    if missing:
        raise RuntimeError(f"layer map of family {layer_map.family!r} misses parameters: {missing[:5]}")
    return [groups[k] for k in sorted(groups, key=lambda k: (k[0], k[1] != "base", not k[2]))]

"""What every peft adapter strategy (LoRA, IA3, LoHa) shares: wrap, map, train, save, merge.

``prepare`` injects the adapter into ``model.net`` in place with ``peft.get_peft_model``;
``model.net`` stays the original Hugging Face or timm module (now holding the adapter
layers), so the rest of tuneforge (forward, features, checkpoints) is unchanged. The new
head goes to peft's ``modules_to_save``, so the saved adapter carries it.

Parameter names change when peft wraps a module (``query.weight`` becomes
``query.base_layer.weight`` and ``query.lora_A.default.weight`` appears), so the layer map
is rebuilt: every parameter belongs to the block of the module that hosts it. The plan
trains the groups of kind "adapter" only (see ``param_groups.param_kind``).

``save_extra`` writes the adapter alone to ``run_dir/adapter`` (load it with
``peft.PeftModel.from_pretrained(base_net, path)``); ``finalize`` merges the adapter into
the weights (``merge_and_unload``) so that ``model/`` is a plain transformers/timm model.

Every block holds trainable adapter parameters, yet the base weights stay frozen; with
``bn: frozen`` (the default) BatchNorm layers therefore keep their running statistics (a
forward pre-hook holds them in eval mode), so the adapter alone describes the whole change.
"""
from __future__ import annotations

from typing import ClassVar, Optional

from pydantic import Field
from torch import nn

from ..errors import RecipeError
from ..models.layer_map import Block, LayerMap
from .base import Plan, Stage, Strategy, StrategyOptions
from ..models.families import build_layer_map


# per family, the names of modules an adapter targets by default: the first set whose names all
# exist as nn.Linear modules wins (BERT, ViT/Llama in transformers, timm ViT, GPT-2)
LINEAR_TARGETS = (["query", "value"], ["q_proj", "v_proj"], ["qkv"], ["c_attn"])
PEFT_SEGMENTS = (".base_layer", ".original_module", ".modules_to_save.default")


class AdapterOptions(StrategyOptions):
    target_modules: Optional[list[str]] = Field(None, description="module names (suffixes) that get the adapter; "
                                                                  "default chosen per model family")


class AdapterStrategy(Strategy):
    """Base of the peft strategies: subclasses build the peft config in :meth:`peft_config`."""

    method: ClassVar[str] = ""

    def __init__(self, options=None):
        super().__init__(options)
        self.peft_model = None

    def peft_config(self, targets: list[str], head: list[str]):
        raise NotImplementedError

    # -- wrapping ------------------------------------------------------------------------------
    def prepare(self, model):
        from peft import get_peft_model

        if model.head_linear_name is None:
            raise RecipeError(f"strategy {self.name!r}: this model has no known head module to train with "
                              f"the adapter")
        targets = self.options.target_modules or default_targets(model.net, model.head_linear_name)
        if not targets:
            raise RecipeError(f"strategy.target_modules: no default target modules for model family "
                              f"{model.layer_map.family!r}; name the module suffixes to adapt")
        old_map, old_names = model.layer_map, [n for n, _ in model.net.named_parameters()]
        head = [model.head_linear_name] if model.new_head else []  # a kept LM head stays frozen
        self._trains_head = bool(head)
        self.peft_model = get_peft_model(model.net, self.peft_config(targets, head))
        model.layer_map = remap_layer_map(old_map, old_names, model.net)
        if self.frozen_blocks_eval:
            self._bn_hooks = [m.register_forward_pre_hook(_keep_eval) for m in model.net.modules()
                              if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        return model

    def plan(self, layer_map, steps_per_epoch, total_steps):
        what = f"{self.method} adapters" + (" + head" if getattr(self, "_trains_head", True) else "")
        return Plan([Stage(what, 0, trainable=list(range(len(layer_map.blocks))),
                           kinds=["adapter"])])

    # -- after training ------------------------------------------------------------------------
    def save_extra(self, model, run_dir) -> list[str]:
        if self.peft_model is None:
            return []
        self.peft_model.save_pretrained(str(run_dir / "adapter"))
        return ["adapter"]

    def finalize(self, model):
        """Merge the adapter into the weights; the model becomes a plain network again."""

        if self.peft_model is None:
            return model
        for hook in getattr(self, "_bn_hooks", []):
            hook.remove()
        model.net = self.peft_model.merge_and_unload()
        model.layer_map = build_layer_map(model.net, model.kind)
        self.peft_model = None
        return model


def default_targets(net: nn.Module, head: str) -> list[str]:
    """Module-name suffixes to adapt when the recipe names none.

    Transformers: the attention query/value projections (the LoRA paper's choice). CNNs: the
    1x1 convolutions (pointwise and projection convs), which peft adapts like linear layers.
    """
    leaves = {name.rsplit(".", 1)[-1]: m for name, m in net.named_modules() if name}
    for names in LINEAR_TARGETS:
        if all(isinstance(leaves.get(n), nn.Linear) for n in names):
            return names
    convs = [name for name, m in net.named_modules()
             if isinstance(m, nn.Conv2d) and m.groups == 1 and m.kernel_size == (1, 1) and not name.startswith(head)]
    return convs


def remap_layer_map(old: LayerMap, old_names: list[str], net: nn.Module) -> LayerMap:
    """The layer map of ``net`` after peft wrapped some of its modules.

    Each new parameter goes to the block of its host module: peft's wrapper segments are
    removed from its name, then the longest module path that held a parameter before
    decides (``...query.lora_A.default.weight`` -> block of ``...query.weight``).
    """
    block_of = old.block_of()
    prefix_block: dict[str, int] = {}
    for name in old_names:
        parts = name.split(".")
        for i in range(1, len(parts)):
            prefix_block.setdefault(".".join(parts[:i]), block_of[name])
    blocks = [Block(b.name, [], [m for m in b.modules if _exists(net, m)], b.role) for b in old.blocks]
    for name, _ in net.named_parameters():
        clean = name
        for seg in PEFT_SEGMENTS:
            clean = clean.replace(seg, "")
        idx = block_of.get(clean)
        parts = clean.split(".")
        while idx is None and parts:
            parts.pop()
            idx = prefix_block.get(".".join(parts))
        if idx is None:
            raise RuntimeError(f"adapter parameter {name} has no host module in the layer map")
        blocks[idx].params.append(name)
    return LayerMap(old.family, blocks)


def _keep_eval(module: nn.Module, _args) -> None:
    """BatchNorm under an adapter: normalise with, and keep, the pre-trained running statistics."""
    module.training = False


def _exists(net: nn.Module, module_name: str) -> bool:
    try:
        net.get_submodule(module_name)
        return True
    except AttributeError:
        return False


"""DoRA (Liu et al. 2024): LoRA with the weight split into a magnitude and a direction.

Each adapted weight is written ``m * (W + B A * alpha/r) / ||W + B A * alpha/r||``: the
low-rank update steers the direction and a learnt per-output vector ``m`` (initialised to
the column norms of ``W``) sets the magnitude, which the paper finds closer to full
fine-tuning than LoRA at the same rank. peft implements it (``LoraConfig(use_dora=True)``);
it merges into the weights after training like LoRA.

Options: as ``lora`` (``r``, ``alpha``, ``dropout``, ``target_modules``).

Example recipe::

    strategy: {name: dora, r: 8}
"""
from __future__ import annotations

from .adapters import AdapterStrategy
from .base import STRATEGIES
from .lora import LoraOptions


@STRATEGIES.register("dora", "DoRA adapters (peft LoRA with a learnt magnitude per output) plus the head; merged after")
class Dora(AdapterStrategy):
    name = "dora"
    method = "DoRA"
    # LoRA's rate: the DoRA paper keeps LoRA's learning rates (its tables reuse them per task), and
    # the direction update is LoRA's; the magnitude vector starts at ||W|| and moves at the same rate
    lr_factor = 30.0
    Options = LoraOptions

    def peft_config(self, targets, head):
        from peft import LoraConfig

        o = self.options
        return LoraConfig(r=o.r, lora_alpha=o.alpha, lora_dropout=o.dropout, target_modules=targets,
                          modules_to_save=head, use_dora=True)

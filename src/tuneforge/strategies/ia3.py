"""IA3 (Liu et al. 2022, "(IA)^3"): learnt vectors that rescale the activations of chosen modules.

Even fewer parameters than LoRA (one vector per adapted module, initialised to 1), merged
into the weights after training. Targets default to the same modules as LoRA; none is
treated as a feed-forward module, so each vector rescales its module's output.

Options: ``target_modules`` (module-name suffixes; default per family as for ``lora``).

Example recipe::

    strategy: {name: ia3}
"""
from __future__ import annotations

from .adapters import AdapterOptions, AdapterStrategy
from .base import STRATEGIES


@STRATEGIES.register("ia3", "IA3 adapters (peft): learnt activation scales plus the head; merged after")
class IA3(AdapterStrategy):
    name = "ia3"
    method = "IA3"
    lr_factor = 20.0
    Options = AdapterOptions

    def peft_config(self, targets, head):
        from peft import IA3Config

        return IA3Config(target_modules=targets, feedforward_modules=[], modules_to_save=head)

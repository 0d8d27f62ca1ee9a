"""LoKr (Yeh et al. 2024, LyCORIS): the update is a Kronecker product of a small matrix and a low-rank one.

``delta W = C kron (B A) * alpha/r``: the Kronecker factor lets a tiny number of parameters
cover the whole weight at high rank. peft's ``LoKrConfig``; merged after training.

Options: ``r``, ``alpha``, ``rank_dropout``, ``module_dropout`` (as ``loha``), ``decompose_factor``
(size of the small Kronecker factor; -1, the default, picks the most square split),
``target_modules`` (default per family as for ``lora``).

Example recipe::

    strategy: {name: lokr, r: 4, decompose_factor: 4}
"""
from __future__ import annotations

from pydantic import Field, field_validator

from .adapters import AdapterStrategy
from .base import STRATEGIES
from .loha import LycorisOptions


class LokrOptions(LycorisOptions):
    decompose_factor: int = Field(-1, ge=-1, description="size of the small Kronecker factor (-1: most square "
                                                         "split of each dimension)")

    @field_validator("decompose_factor")
    @classmethod
    def _factor(cls, v):
        if v == 0:
            raise ValueError("use a factor >= 1, or -1 for the most square split")
        return v


@STRATEGIES.register("lokr", "LoKr adapters (peft): Kronecker product with a low-rank factor, plus the head; merged after")
class LoKr(AdapterStrategy):
    name = "lokr"
    method = "LoKr"
    # LoRA's rate, as for LoHa: the update starts at zero and LyCORIS gives LoKr LoRA's learning rates
    lr_factor = 30.0
    Options = LokrOptions

    def peft_config(self, targets, head):
        from peft import LoKrConfig

        o = self.options
        return LoKrConfig(r=o.r, alpha=o.alpha, rank_dropout=o.rank_dropout, module_dropout=o.module_dropout,
                          decompose_factor=o.decompose_factor, target_modules=targets, modules_to_save=head)

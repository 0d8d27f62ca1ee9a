"""LoHa (Hyeon-Woo et al. 2022, FedPara; LyCORIS): the update is a Hadamard product of two low-rank products.

``delta W = (B1 A1) * (B2 A2) * alpha/r``: with the same rank ``r`` as LoRA it reaches rank
up to ``r^2``, for twice LoRA's parameters. peft's ``LoHaConfig``; merged after training.

Options: ``r`` (rank of each factor, default 8), ``alpha`` (default 8, peft's), ``rank_dropout``
(drops rows of the update while training), ``module_dropout`` (skips the whole adapter for a
batch), ``target_modules`` (default per family as for ``lora``).

Example recipe::

    strategy: {name: loha, r: 4}
"""
from __future__ import annotations

from pydantic import Field

from .adapters import AdapterOptions, AdapterStrategy
from .base import STRATEGIES


class LycorisOptions(AdapterOptions):
    r: int = Field(8, ge=1, description="rank of each low-rank factor")
    alpha: float = Field(8.0, gt=0, description="scaling numerator: the update is scaled by alpha / r")
    rank_dropout: float = Field(0.0, ge=0, lt=1, description="dropout on the rows of the update while training")
    module_dropout: float = Field(0.0, ge=0, lt=1, description="probability of skipping the adapter for a batch")


@STRATEGIES.register("loha", "LoHa adapters (peft): Hadamard product of two low-rank updates, plus the head; merged after")
class LoHa(AdapterStrategy):
    name = "loha"
    method = "LoHa"
    # LoRA's rate: the update starts at zero as LoRA's does (one factor pair is initialised to 0) and the
    # LyCORIS guidance gives LoHa the same learning rates as LoRA
    lr_factor = 30.0
    Options = LycorisOptions

    def peft_config(self, targets, head):
        from peft import LoHaConfig

        o = self.options
        return LoHaConfig(r=o.r, alpha=o.alpha, rank_dropout=o.rank_dropout, module_dropout=o.module_dropout,
                          target_modules=targets, modules_to_save=head)

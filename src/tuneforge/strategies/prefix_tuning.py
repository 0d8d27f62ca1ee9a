"""Prefix tuning (Li & Liang 2021): learnt keys and values of ``num_virtual_tokens`` positions in every layer.

Each attention layer attends to a learnt prefix before the input, passed to the frozen causal LM
as its key-value cache; ``num_virtual_tokens x layers x 2 x hidden size`` numbers train. With
``prefix_projection`` the prefix is produced by a two-layer MLP from a smaller embedding (the
paper's reparametrisation, steadier training, more parameters while training; ``encoder_hidden_size``
is the MLP's width). peft implements it (``PrefixTuningConfig``); it cannot be merged into the
weights, so the run's ``adapter/`` folder is the fine-tuned artifact and ``model/`` holds the
pre-trained weights plus the prefix (see ``strategies/prompt_learning.py``).

causal-lm only; refused with packing, ``train.compile``, DP-SGD and gradient checkpointing.

Options: ``num_virtual_tokens`` (default 20), ``prefix_projection`` (default false),
``encoder_hidden_size`` (the MLP's width with ``prefix_projection``; default the model's hidden size).

Example recipe::

    task: causal-lm
    strategy: {name: prefix-tuning, num_virtual_tokens: 20}
"""
from __future__ import annotations

from typing import Optional

from pydantic import Field

from .base import STRATEGIES
from .prompt_learning import PromptLearningOptions, PromptLearningStrategy


class PrefixTuningOptions(PromptLearningOptions):
    prefix_projection: bool = Field(False, description="produce the prefix with a two-layer MLP (reparametrisation)")
    encoder_hidden_size: Optional[int] = Field(None, ge=1, description="width of that MLP; default the model's "
                                                                       "hidden size")


@STRATEGIES.register("prefix-tuning", "causal-lm: learnt key/value prefixes in every attention layer (peft); the LM "
                                      "stays frozen, never merged")
class PrefixTuning(PromptLearningStrategy):
    name = "prefix-tuning"
    method = "prefix tuning"
    checkpointing_ok = False
    # 500x a decoder's full fine-tuning rate = 1e-2 (AdamW), the rate of peft's prefix-tuning examples
    lr_factor = 500.0
    Options = PrefixTuningOptions

    def peft_config(self, model):
        from peft import PrefixTuningConfig, TaskType

        o = self.options
        hidden = o.encoder_hidden_size or model.net.config.hidden_size
        return PrefixTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=o.num_virtual_tokens,
                                  prefix_projection=o.prefix_projection, encoder_hidden_size=hidden)

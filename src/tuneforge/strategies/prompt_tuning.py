"""Prompt tuning (Lester et al. 2021): a learnt soft prompt of virtual token embeddings before every input.

Only ``num_virtual_tokens x hidden size`` numbers train; the causal LM stays frozen and unchanged.
The prompt starts from the embeddings of ``init_text`` (tokenized with the model's tokenizer,
repeated or cut to ``num_virtual_tokens``; the paper finds a text init trains faster and more
reliably than a random one) or at random. peft implements it (``PromptTuningConfig``); it cannot
be merged into the weights, so the run's ``adapter/`` folder (the prompt) is the fine-tuned artifact
and ``model/`` holds the pre-trained weights plus the prompt (see ``strategies/prompt_learning.py``).

causal-lm only; refused with packing, ``train.compile`` and DP-SGD.

Options: ``num_virtual_tokens`` (default 20), ``init_text`` (default none: random init).

Example recipe::

    task: causal-lm
    strategy: {name: prompt-tuning, num_virtual_tokens: 20, init_text: "Answer the question briefly:"}
"""
from __future__ import annotations

from typing import Optional

from pydantic import Field

from .base import STRATEGIES
from .prompt_learning import PromptLearningOptions, PromptLearningStrategy


class PromptTuningOptions(PromptLearningOptions):
    init_text: Optional[str] = Field(None, min_length=1, description="text whose token embeddings start the prompt "
                                                                     "(peft prompt_tuning_init_text); none: random")


@STRATEGIES.register("prompt-tuning", "causal-lm: a learnt soft prompt of virtual tokens (peft); the LM stays "
                                      "frozen, never merged")
class PromptTuning(PromptLearningStrategy):
    name = "prompt-tuning"
    method = "prompt tuning"
    prepends_tokens = True
    # 1500x a decoder's full fine-tuning rate = 3e-2 (AdamW): peft's prompt-tuning examples for causal LMs use
    # 3e-2; the paper's 0.3 is with Adafactor on T5. A soft prompt moves little per step at low rates.
    lr_factor = 1500.0
    Options = PromptTuningOptions

    def peft_config(self, model):
        from peft import PromptTuningConfig, PromptTuningInit, TaskType

        o = self.options
        if o.init_text is None:
            return PromptTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=o.num_virtual_tokens,
                                      prompt_tuning_init=PromptTuningInit.RANDOM)
        # peft tokenizes the text with the tokenizer of the folder the network was loaded from (local, offline)
        return PromptTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=o.num_virtual_tokens,
                                  prompt_tuning_init=PromptTuningInit.TEXT, prompt_tuning_init_text=o.init_text,
                                  tokenizer_name_or_path=model.net.name_or_path)

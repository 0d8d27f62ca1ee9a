"""A tiny causal LM built offline, shaped like SmolLM2 where it matters for fine-tuning tests.

``tiny_causal_lm(path)``: the 2-layer Llama of :func:`helpers.tiny.tiny_llama` (word-level tokenizer,
no pad token) saved as a whole ``LlamaForCausalLM`` with the LM head tied to the input embeddings
(so every load gets the same head, as with SmolLM2), and embeddings scaled up so that logits span a
realistic range (at the default init a frozen tied head cannot express a confident next token,
which would make a LoRA test measure the init, not the training).
"""
from __future__ import annotations

from pathlib import Path

import torch

EMBEDDING_SCALE = 20.0


def tiny_causal_lm(path) -> Path:
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from helpers.tiny import tiny_llama

    path = Path(path)
    base = tiny_llama(path / "base")
    config = LlamaConfig.from_pretrained(base)
    config.tie_word_embeddings = True
    torch.manual_seed(0)
    net = LlamaForCausalLM(config)
    with torch.no_grad():
        net.get_input_embeddings().weight.mul_(EMBEDDING_SCALE)
    net.tie_weights()
    folder = path / "lm"
    net.save_pretrained(folder)
    AutoTokenizer.from_pretrained(base).save_pretrained(folder)
    return folder

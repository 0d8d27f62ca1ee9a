"""Benchmark cases: the same model, data, batch size, sequence length / image size and precision
for every implementation (tuneforge, the Hugging Face Trainer, a minimal hand-written loop).

A case's ``frozen_prefix`` says which blocks the other implementations freeze (from the input up);
``"frozen": "plan"`` instead freezes whatever the tuneforge strategy's first stage does not train
(e.g. every base weight under LoRA, whose adapters are already in the model when it is prepared)."""
from __future__ import annotations

CASES = {
    "minilm-full": {
        "recipe": {"task": "text-classification", "model": {"name": "minilm-l6"},
                   "data": {"train": "tweets", "text_column": "text", "label_column": "sentiment",
                            "validation": 0.1, "test": None, "max_length": 64},
                   "strategy": {"name": "full"}, "optimizer": {"lr": 1e-4},
                   "train": {"batch_size": 32}},
        "frozen_prefix": 0,   # blocks frozen from the input up (embeddings count as one)
        "samples": 2000, "quick_samples": 640,
    },
    "minilm-frozen4": {
        "recipe": {"task": "text-classification", "model": {"name": "minilm-l6"},
                   "data": {"train": "tweets", "text_column": "text", "label_column": "sentiment",
                            "validation": 0.1, "test": None, "max_length": 64},
                   "strategy": {"name": "freeze", "top_blocks": 2}, "optimizer": {"lr": 1e-4},
                   "train": {"batch_size": 32}},
        "frozen_prefix": 5,   # embeddings + layers 0-3
        "samples": 2000, "quick_samples": 640,
    },
    "effnet-probe": {
        "recipe": {"task": "image-classification", "model": {"name": "efficientnet-lite0"},
                   "data": {"train": "fashion-mnist", "validation": 0.1, "test": None, "image_size": 96},
                   "strategy": {"name": "linear-probe"}, "optimizer": {"lr": 1e-2},
                   "train": {"batch_size": 64}},
        "frozen_prefix": -1,  # everything below the head
        "samples": 2000, "quick_samples": 640,
    },
    "effnet-full": {
        "recipe": {"task": "image-classification", "model": {"name": "efficientnet-lite0"},
                   "data": {"train": "fashion-mnist", "validation": 0.1, "test": None, "image_size": 96},
                   "strategy": {"name": "full"}, "optimizer": {"lr": 1e-3},
                   "train": {"batch_size": 64}},
        "frozen_prefix": 0,
        "samples": 2000, "quick_samples": 640,
    },
    "smollm-lora": {
        "recipe": {"task": "text-classification", "model": {"name": "smollm2-135m"},
                   "data": {"train": "tweets", "text_column": "text", "label_column": "sentiment",
                            "validation": 0.1, "test": None, "max_length": 64},
                   "strategy": {"name": "lora"}, "optimizer": {"lr": 2e-4},
                   "train": {"batch_size": 16}},
        "frozen_prefix": 0,
        "frozen": "plan",     # hf/loop train exactly what tuneforge's plan trains: LoRA adapters + head
        "samples": 320, "quick_samples": 160,
    },
}

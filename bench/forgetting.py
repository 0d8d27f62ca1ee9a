"""Does a regulariser reduce forgetting at equal target cost? MiniLM on tweets, one run per setting.

For each regulariser setting: a short full fine-tune of the real MiniLM-L6 on the packaged tweets,
then the test macro-F1 (target), the squared distance of the body's weights from the pre-trained
ones, and the retention measures on the test probe (mean linear CKA per block, embedding Spearman).

    HF_HUB_OFFLINE=1 PYTHONPATH=src python bench/forgetting.py            # prints one row per setting
"""
from __future__ import annotations

import json
import sys

import torch

from tuneforge.api import finetune
from tuneforge.models import load_task_model
from tuneforge.recipe.schema import ModelSection

SETTINGS = {
    "none": [],
    "l2-sp 0.1": [{"name": "l2-sp", "weight": 0.1}],
    "l2-sp 1": [{"name": "l2-sp", "weight": 1.0}],
    "l2-sp 10": [{"name": "l2-sp", "weight": 10.0}],
    "ewc 0.2": [{"name": "ewc", "weight": 0.2, "samples": 64}],
    "ewc 2": [{"name": "ewc", "weight": 2.0, "samples": 64}],
    "ewc 20": [{"name": "ewc", "weight": 20.0, "samples": 64}],
}

RECIPE = {
    "task": "text-classification", "model": {"name": "minilm-l6"},
    "data": {"train": "tweets", "text_column": "text", "label_column": "sentiment", "validation": 0.1,
             "test": 0.2, "max_train_samples": 512, "max_eval_samples": 256, "max_length": 64},
    "strategy": {"name": "full", "warm_head": False}, "optimizer": {"lr": 2e-4, "weight_decay": 0.0},
    "scheduler": {"name": "constant", "warmup": 0},
    "train": {"epochs": 1, "batch_size": 32, "seed": 0, "precision": "fp32", "restore_best": False},
    "evaluate": {"baseline": False, "retention": {"probe_size": 128}, "report": False, "bootstrap": 0,
                 "explain": 0},
    "output": {"dir": "/tmp/tuneforge-forgetting", "save_model": False},
}


def body_distance(model) -> float:
    start = load_task_model(ModelSection(name="minilm-l6"), "text", 3, ["a", "b", "c"], False)
    ref = dict(start.net.named_parameters())
    head = model.head_linear_name
    return sum((p.detach() - ref[n].detach()).pow(2).sum().item() for n, p in model.net.named_parameters()
               if n in ref and not n.startswith(head) and not n.startswith("classifier"))


def main(names) -> None:
    for name in names or SETTINGS:
        result = finetune({**RECIPE, "regularisers": SETTINGS[name]}, quiet=True)
        m = result.metrics
        r = m["retention"]
        row = {"setting": name, "test_macro_f1": round(m["test"]["macro_f1"], 4),
               "body_sq_distance": round(body_distance(result.model), 4), "mean_cka": round(r["mean_cka"], 4),
               "embedding_spearman": round(r["embedding_spearman"], 4), "train_s": round(m["train"]["seconds"], 1)}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(sys.argv[1:])

"""The Hugging Face Trainer with its own defaults, on a tuneforge recipe's exact split; prints one JSON line.

    python bench/hf_default.py RECIPE.yaml --out /tmp/hf

What a Trainer user gets without choosing anything: ``TrainingArguments`` defaults (AdamW at 5e-5, batch
8, no warmup, linear decay, no weight decay, fp32 on a CPU) for the recipe's number of epochs, on the
model class transformers gives for the task (``AutoModelForSequenceClassification``: BERT's pooler head),
or for a timm model the network with a cross-entropy loss. The examples, split and seed are tuneforge's
(``prepare``), so the test set is the same one the strategies are scored on.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main():
    from rich.console import Console
    from transformers import Trainer, TrainingArguments

    from tuneforge.evaluation import compute_metrics
    from tuneforge.evaluation.bootstrap import confidence_intervals
    from tuneforge.recipe import load_recipe
    from tuneforge.runs.pipeline import prepare

    ap = argparse.ArgumentParser()
    ap.add_argument("recipe")
    ap.add_argument("--out", default="/tmp/tuneforge-hf-default")
    args = ap.parse_args()
    recipe = load_recipe(args.recipe, {"strategy.name": "full"})
    if recipe.task.startswith("text"):  # the class transformers gives the task reads BERT's pooler
        recipe = load_recipe(args.recipe, {"strategy.name": "full", "model.pooling": "pooler"})
    p = prepare(recipe, Console(quiet=True))
    enc, net = p.encoded["train"], p.model.net
    for prm in net.parameters():
        prm.requires_grad_(True)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from hf_data import Examples, collator, test_logits

    collate = collator(enc)

    class TimmWithLoss(torch.nn.Module):  # timm networks take pixels and compute no loss
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values, labels=None):
            logits = self.m(pixel_values)
            return {"loss": torch.nn.functional.cross_entropy(logits, labels), "logits": logits}

    model = net if p.model.kind == "hf" else TimmWithLoss(net)
    targs = TrainingArguments(output_dir=args.out, num_train_epochs=recipe.train.epochs, use_cpu=True,
                              report_to=[], save_strategy="no", eval_strategy="no", logging_strategy="no",
                              disable_tqdm=True, seed=recipe.train.seed, remove_unused_columns=False)
    t0 = time.perf_counter()
    Trainer(model=model, args=targs, train_dataset=Examples(enc), data_collator=collate).train()
    seconds = time.perf_counter() - t0

    outputs = test_logits(net, p.encoded["test"], collate, hf=p.model.kind == "hf")
    targets = np.asarray(p.data.test.targets)
    metrics = compute_metrics("classification", targets, outputs, p.data.label_names)
    ci = confidence_intervals("classification", targets, outputs, 1000, 0.95, recipe.train.seed)
    np.savez(Path(args.out) / "test_outputs.npz", outputs=outputs, targets=targets)
    print(json.dumps({"strategy": "HF Trainer (defaults)", "lr": targs.learning_rate,
                      "batch_size": targs.per_device_train_batch_size, "epochs": recipe.train.epochs,
                      "test": metrics, "test_ci": ci, "seconds": seconds,
                      "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, default=float))


if __name__ == "__main__":
    main()

"""The Hugging Face Trainer's own ``hyperparameter_search`` (Optuna backend) on a tuneforge recipe's split.

    python bench/hf_search.py RECIPE.yaml --timeout 300 --out /tmp/hf-search

What a Trainer user does to tune: ``Trainer.hyperparameter_search(backend="optuna")`` over learning
rate, batch size and weight decay, each trial scored by validation macro-F1 (``compute_metrics``), for
``--timeout`` seconds; then the best values train once more on the training split and are tested on
the test split (the same examples tuneforge tests on). Prints one JSON line (wall-clock included).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main():
    from rich.console import Console
    from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

    from tuneforge.evaluation import compute_metrics
    from tuneforge.evaluation.bootstrap import confidence_intervals
    from tuneforge.models.loading import resolve
    from tuneforge.recipe import load_recipe
    from tuneforge.runs.pipeline import prepare

    ap = argparse.ArgumentParser()
    ap.add_argument("recipe")
    ap.add_argument("--timeout", type=float, required=True)
    ap.add_argument("--out", default="/tmp/tuneforge-hf-search")
    args = ap.parse_args()
    started = time.perf_counter()
    recipe = load_recipe(args.recipe, {"strategy.name": "full", "model.pooling": "pooler"})
    p = prepare(recipe, Console(quiet=True))
    spec, _ = resolve(recipe.model)
    labels = p.data.label_names
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from hf_data import Examples, collator, test_logits

    collate = collator(p.encoded["train"])

    def model_init(trial=None):
        return AutoModelForSequenceClassification.from_pretrained(spec.path, num_labels=len(labels),
                                                                  local_files_only=True)

    def metrics_fn(pred):
        return {"macro_f1": compute_metrics("classification", pred.label_ids, pred.predictions, labels)["macro_f1"]}

    def hp_space(trial):
        return {"learning_rate": trial.suggest_float("learning_rate", 1e-5, 5e-4, log=True),
                "per_device_train_batch_size": trial.suggest_categorical("per_device_train_batch_size", [8, 16, 32]),
                "weight_decay": trial.suggest_float("weight_decay", 0.0, 0.1)}

    targs = TrainingArguments(output_dir=args.out, num_train_epochs=recipe.train.epochs, use_cpu=True, report_to=[],
                              save_strategy="no", eval_strategy="epoch", logging_strategy="no", disable_tqdm=True,
                              seed=recipe.train.seed, remove_unused_columns=False)
    trainer = Trainer(model_init=model_init, args=targs, train_dataset=Examples(p.encoded["train"]),
                      eval_dataset=Examples(p.encoded["validation"]), data_collator=collate,
                      compute_metrics=metrics_fn)
    best = trainer.hyperparameter_search(direction="maximize", backend="optuna", hp_space=hp_space, n_trials=1000,
                                         timeout=args.timeout, compute_objective=lambda m: m["eval_macro_f1"])
    search_seconds = time.perf_counter() - started
    for k, v in best.hyperparameters.items():
        setattr(trainer.args, k, v)
    trainer.model = model_init()
    trainer.train()
    outputs, targets = test_logits(trainer.model, p.encoded["test"], collate), np.asarray(p.data.test.targets)
    print(json.dumps({"strategy": "HF Trainer hyperparameter_search (optuna)", "best": best.hyperparameters,
                      "best_validation": best.objective,
                      "test": compute_metrics("classification", targets, outputs, labels),
                      "test_ci": confidence_intervals("classification", targets, outputs, 1000, 0.95, recipe.train.seed),
                      "search_seconds": search_seconds, "wall_seconds": time.perf_counter() - started},
                     default=float))


if __name__ == "__main__":
    main()

"""The Hugging Face way to fine-tune NER, on a tuneforge recipe's exact split; prints one JSON line.

    python bench/hf_ner.py RECIPE.yaml --lr 5e-5 --out /tmp/hf-ner

What the transformers token-classification example does: ``AutoModelForTokenClassification`` from the
recipe's checkpoint (a random head), words tokenised with ``is_split_into_words=True``, each word's tag
on its first sub-token and -100 elsewhere, ``DataCollatorForTokenClassification`` padding batches, and
the ``Trainer`` with the recipe's epochs, batch size, weight decay, warmup, linear schedule, max length
and seed, at ``--lr`` (the rate tuneforge resolved, so both sides train at the same rate). The split is
tuneforge's (``load_data`` with the recipe's seed), and test predictions are read at each word's first
sub-token and scored by the same entity metrics and bootstrap as a tuneforge run; they are saved as
``<out>/test_outputs.npz`` (``[sentences, words, tags]``) for a paired bootstrap against a run.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def features(tokenizer, sentences, targets, max_length: int) -> tuple[list[dict], list[np.ndarray]]:
    """Tokenised sentences with first-sub-token labels (-100 elsewhere), and each word's first position."""
    enc = tokenizer(list(sentences), is_split_into_words=True, truncation=True, max_length=max_length)
    rows, starts = [], []
    for i, tags in enumerate(targets):
        labels, first, seen = [], np.full(len(tags), -1), set()
        for pos, w in enumerate(enc.word_ids(i)):
            if w is None or w in seen:
                labels.append(-100)
                continue
            seen.add(w)
            first[w] = pos
            labels.append(int(tags[w]))
        rows.append({"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i], "labels": labels})
        starts.append(first)
    return rows, starts


@torch.no_grad()
def word_logits(net, rows, starts, collate, k: int, batch: int = 64) -> np.ndarray:
    """``[N, W, K]`` logits at each word's first sub-token (NaN for words without one, and padding)."""
    net.eval()
    width = max(len(s) for s in starts)
    out = np.full((len(rows), width, k), np.nan, dtype=np.float32)
    for a in range(0, len(rows), batch):
        b = collate([{kk: v for kk, v in r.items() if kk != "labels"} for r in rows[a:a + batch]])
        logits = net(**b).logits.float().numpy()
        for j, s in enumerate(starts[a:a + batch]):
            ok = s >= 0
            out[a + j, :len(s)][ok] = logits[j, s[ok]]
    return out


def main():
    from transformers import (AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification,
                              Trainer, TrainingArguments)

    from tuneforge.data import load_data
    from tuneforge.evaluation import token_metrics as tm
    from tuneforge.models.aliases import MODELS
    from tuneforge.recipe import load_recipe
    from tuneforge.tasks import TASKS

    ap = argparse.ArgumentParser()
    ap.add_argument("recipe")
    ap.add_argument("--lr", type=float, required=True)
    ap.add_argument("--out", default="/tmp/tuneforge-hf-ner")
    args = ap.parse_args()
    started = time.perf_counter()
    recipe = load_recipe(args.recipe)
    data = load_data(recipe.data, TASKS.get(recipe.task), recipe.train.seed)
    names = list(data.label_names)
    path = MODELS.get(recipe.model.name)().path
    tokenizer = AutoTokenizer.from_pretrained(path)
    net = AutoModelForTokenClassification.from_pretrained(
        path, num_labels=len(names), id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)})
    train, _ = features(tokenizer, data.train.inputs, data.train.targets, recipe.data.max_length)
    test, test_starts = features(tokenizer, data.test.inputs, data.test.targets, recipe.data.max_length)
    collate = DataCollatorForTokenClassification(tokenizer)
    t = recipe.train
    targs = TrainingArguments(output_dir=args.out, num_train_epochs=t.epochs, per_device_train_batch_size=t.batch_size,
                              learning_rate=args.lr, weight_decay=recipe.optimizer.weight_decay,
                              lr_scheduler_type="linear", warmup_steps=recipe.scheduler.warmup, use_cpu=True,
                              report_to=[], save_strategy="no", eval_strategy="no", logging_strategy="no",
                              disable_tqdm=True, seed=t.seed)
    t0 = time.perf_counter()
    Trainer(model=net, args=targs, train_dataset=train, data_collator=collate).train()
    seconds = time.perf_counter() - t0

    outputs = word_logits(net, test, test_starts, collate, len(names))
    targets = list(data.test.targets)
    metrics = {k: v for k, v in tm.token_metrics(targets, outputs, names).items() if not isinstance(v, dict)}
    ci = tm.confidence_intervals(targets, outputs, names, recipe.evaluate.bootstrap, 0.95, t.seed)
    result = {"arm": "HF Trainer + DataCollatorForTokenClassification", "lr": args.lr, "epochs": t.epochs,
              "batch_size": t.batch_size, "train_examples": len(train), "test": metrics, "test_ci": ci,
              "train_seconds": seconds, "samples_per_second": len(train) * t.epochs / seconds,
              "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    np.savez_compressed(Path(args.out) / "test_outputs.npz", outputs=outputs)
    result["process_seconds"] = time.perf_counter() - started
    print(json.dumps(result, default=float))


if __name__ == "__main__":
    main()

"""One benchmark measurement in a fresh process; prints one JSON line.

    python bench/one.py --impl tuneforge|hf|loop --case minilm-full --precision fp32 --epochs 2 --samples 640

Every implementation gets the same model weights, the same tokenised / decoded examples in the same
split, the same batch size, learning rate, epochs and precision. Only training time is timed (per
epoch, evaluation excluded); validation accuracy is recorded after each epoch.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def prepared(case: dict, precision: str, epochs: int, samples: int):
    from rich.console import Console
    from tuneforge.recipe import load_recipe
    from tuneforge.runs.pipeline import prepare

    recipe = load_recipe(case["recipe"], {"train.epochs": epochs, "data.max_train_samples": samples,
                                          "data.max_eval_samples": 500, "train.precision": precision,
                                          "evaluate.baseline": False, "scheduler.name": "linear",
                                          "scheduler.warmup": 0.0, "train.restore_best": False})
    return prepare(recipe, Console(quiet=True))


def frozen_names(p, prefix: int) -> set[str]:
    blocks = p.model.layer_map.blocks
    upto = len(blocks) - 1 if prefix < 0 else prefix
    return {n for b in blocks[:upto] for n in b.params}


def plan_frozen_names(p) -> set[str]:
    """Parameters that the first stage of tuneforge's plan for ``p.strategy`` leaves frozen.

    Used for adapter strategies: ``prepare`` has already wrapped the model, so the base
    weights freeze and only the adapter (and head) parameters train, in every implementation.
    """
    from tuneforge.strategies.param_groups import build_param_groups

    enc, r = p.encoded["train"], p.recipe
    steps = math.ceil(len(enc) / r.train.batch_size)
    stage = p.strategy.plan(p.model.layer_map, steps, steps * r.train.epochs).stages[0]
    groups = build_param_groups(p.model.net, p.model.layer_map)
    return {n for g in groups if not stage.settings(g)[0] for n in g.param_names}


def accuracy(model, split, batch_size=128) -> float:
    from tuneforge.evaluation import predict_outputs
    out = predict_outputs(model, split, batch_size)
    return float((out.argmax(1) == split.batch(np.arange(len(split)))["targets"].numpy()).mean())


def run_tuneforge(p, args):
    from tuneforge.training import Callback
    from tuneforge.training.trainer import build_trainer

    times, accs = [], []

    class EpochClock(Callback):
        def on_epoch_end(self, trainer):
            times.append(trainer.state.seconds - sum(times))

    trainer = build_trainer(p.model, p.task, p.recipe, p.strategy, p.encoded["train"], callbacks=[EpochClock()])
    trainer.evaluate_fn = lambda: accs.append(accuracy(p.model, p.encoded["validation"])) or {}
    trainer.fit()
    return times, accs, trainer.state.tokens


def run_hf(p, args, frozen):
    from transformers import Trainer, TrainerCallback, TrainingArguments

    enc, net = p.encoded["train"], p.model.net
    for n, prm in net.named_parameters():
        prm.requires_grad_(n not in frozen)
    from hf_data import Examples, collator

    DS, collate = (lambda: Examples(enc)), collator(enc)

    class Wrapped(torch.nn.Module):  # timm models don't compute a loss from labels
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, labels=None, **kw):
            logits = self.m(kw)
            return {"loss": torch.nn.functional.cross_entropy(logits.float(), labels), "logits": logits}

    times, accs, t0 = [], [], [0.0]

    class Clock(TrainerCallback):
        def on_epoch_begin(self, a, s, c, **kw):
            t0[0] = time.perf_counter()

        def on_epoch_end(self, a, s, c, **kw):
            times.append(time.perf_counter() - t0[0])
            accs.append(accuracy(p.model, p.encoded["validation"]))
            p.model.train()

    r = p.recipe
    targs = TrainingArguments(output_dir=str(Path(args.tmp) / "hf"), per_device_train_batch_size=r.train.batch_size,
                              num_train_epochs=r.train.epochs, learning_rate=r.optimizer.lr, weight_decay=0.01,
                              lr_scheduler_type="linear", warmup_steps=0, bf16=args.precision == "bf16",
                              use_cpu=True, report_to=[], save_strategy="no", eval_strategy="no",
                              logging_strategy="no", disable_tqdm=True, seed=r.train.seed, max_grad_norm=1.0,
                              dataloader_num_workers=0, remove_unused_columns=False)
    Trainer(model=Wrapped(p.model), args=targs, train_dataset=DS(), data_collator=collate,
            callbacks=[Clock()]).train()
    return times, accs, None


def run_loop(p, args, frozen):
    """The floor: a minimal loop with length-sorted chunks, AdamW, autocast."""
    from tuneforge.data.encode import batch_order

    enc, model, r = p.encoded["train"], p.model, p.recipe
    params = [prm for n, prm in model.net.named_parameters() if n not in frozen]
    for n, prm in model.net.named_parameters():
        prm.requires_grad_(n not in frozen)
    opt = torch.optim.AdamW(params, lr=r.optimizer.lr, weight_decay=0.01)
    total = r.train.epochs * math.ceil(len(enc) / r.train.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1 - s / total))
    times, accs = [], []
    for epoch in range(r.train.epochs):
        model.train()
        t0 = time.perf_counter()
        for idx in batch_order(len(enc), r.train.batch_size, 0, epoch, lengths=enc.lengths):
            b = enc.batch(idx, train=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
                loss = torch.nn.functional.cross_entropy(model(b).float(), b["targets"])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
        accs.append(accuracy(model, p.encoded["validation"]))
    return times, accs, None


def main():
    from cases import CASES

    ap = argparse.ArgumentParser()
    ap.add_argument("--impl", required=True, choices=["tuneforge", "hf", "loop"])
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--samples", type=int, default=640)
    ap.add_argument("--tmp", default="/tmp/tuneforge-bench")
    args = ap.parse_args()
    case = CASES[args.case]
    p = prepared(case, args.precision, args.epochs, args.samples)
    frozen = plan_frozen_names(p) if case.get("frozen") == "plan" else frozen_names(p, case["frozen_prefix"])
    if args.impl == "tuneforge":
        times, accs, tokens = run_tuneforge(p, args)
    elif args.impl == "hf":
        times, accs, tokens = run_hf(p, args, frozen)
    else:
        times, accs, tokens = run_loop(p, args, frozen)
    enc = p.encoded["train"]
    real_tokens = int(enc.lengths.sum()) if enc.lengths is not None else None
    non_embedding = sum(prm.numel() for n, prm in p.model.net.named_parameters()
                        if "embeddings" not in n and "embed_tokens" not in n)
    print(json.dumps({"impl": args.impl, "case": args.case, "precision": args.precision, "n": len(enc),
                      "frozen_prefix": case.get("frozen", case["frozen_prefix"]),
                      "trainable_params": sum(prm.numel() for n, prm in p.model.net.named_parameters()
                                              if n not in frozen),
                      "epoch_seconds": times, "val_accuracy": accs, "real_tokens_per_epoch": real_tokens,
                      "non_embedding_params": non_embedding,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()

"""One arm of the causal-LM benchmark in a fresh process (so its memory peak is its own); prints one JSON line.

    python bench/lm_one.py --arm tuneforge-lora|tuneforge-full|hf-lora|trl-lora --train 64 --eval 32

Every arm gets SmolLM2-135M-Instruct (alias ``smollm2-135m``), the same tweets-instructions examples in
the same split (tuneforge's ``load_data`` with the seed), the same token ids and loss mask (tuneforge's
``encode_example``: loss on the response tokens only), batch size, epochs, learning rate, AdamW weight
decay and linear schedule with the same warmup fraction. LoRA is r 8, alpha 16, no dropout, on q_proj and
v_proj (tuneforge's default for Llama) in all three LoRA arms. The HF arm is the ``Trainer`` on a peft
model with ``DataCollatorForSeq2Seq`` (pads labels with -100); the TRL arm is ``SFTTrainer`` with the
same LoRA config, given the examples already tokenised (``input_ids`` + ``completion_mask``, so TRL's
completion-only loss masks exactly what tuneforge masks). Tokens/s counts the non-padding tokens of
the training examples over training seconds (evaluation excluded). Peak memory is this process's peak
resident set size (``ru_maxrss``), which on a CPU includes the weights, gradients, optimizer state and
activations; the tuneforge arms also evaluate perplexity before and after in the same process.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ARMS = ("tuneforge-lora", "tuneforge-full", "hf-lora", "trl-lora")
LORA = {"r": 8, "alpha": 16.0, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}


def recipe_for(args, strategy: str, lr: float):
    from tuneforge.recipe import Recipe

    opts = {"name": "lora", **LORA} if strategy == "lora" else {"name": "full"}
    return Recipe(task="causal-lm", model={"name": args.model}, strategy=opts,
                  data={"train": "tweets-instructions", "prompt_column": "prompt", "response_column": "response",
                        "validation": None, "test": 0.2, "max_train_samples": args.train,
                        "max_eval_samples": args.eval, "max_length": args.max_length},
                  optimizer={"lr": lr}, scheduler={"name": "linear", "warmup": args.warmup},
                  train={"epochs": args.epochs, "batch_size": args.batch, "seed": args.seed},
                  generate={"samples": 0}, evaluate={"bootstrap": 1000, "report": False, "explain": 0},
                  output={"dir": args.out, "save_model": False})


def tuneforge_arm(args, strategy: str, lr: float) -> dict:
    from tuneforge.runs.pipeline import run

    m = run(recipe_for(args, strategy, lr), quiet=True).metrics
    t = m["train"]
    return {"before": m["baseline"]["perplexity"], "before_ci": (m["baseline"].get("ci") or {}).get("perplexity"),
            "after": m["test"]["perplexity"], "after_ci": m["test_ci"]["perplexity"],
            "tokens": t["tokens"], "train_seconds": t["seconds"], "trainable": t["trainable_parameters"],
            "vs_baseline": m.get("vs_baseline")}


def examples(args):
    """The training examples as tuneforge encodes them: ``[(ids, labels)]``, and the tokenizer and folder."""
    from transformers import AutoTokenizer

    from tuneforge.data import load_data
    from tuneforge.data.lm_examples import encode_example
    from tuneforge.models.aliases import MODELS
    from tuneforge.tasks import TASKS

    recipe = recipe_for(args, "lora", args.lr_lora)
    folder = MODELS.get(args.model)().path if args.model in MODELS else args.model
    tokenizer = AutoTokenizer.from_pretrained(folder)
    data = load_data(recipe.data, TASKS.get("causal-lm"), args.seed)
    return [encode_example(r, tokenizer, args.max_length, False) for r in data.train.inputs], tokenizer, folder


def hf_arm(args, trl: bool) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, DataCollatorForSeq2Seq, Trainer, TrainingArguments

    rows, tokenizer, folder = examples(args)
    torch.manual_seed(args.seed)
    net = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    lora = LoraConfig(r=LORA["r"], lora_alpha=LORA["alpha"], lora_dropout=LORA["dropout"],
                      target_modules=LORA["target_modules"], task_type="CAUSAL_LM")
    common = dict(output_dir=str(Path(args.out) / "hf"), num_train_epochs=args.epochs,
                  per_device_train_batch_size=args.batch, learning_rate=args.lr_lora, weight_decay=0.01,
                  lr_scheduler_type="linear", warmup_steps=args.warmup, use_cpu=True, report_to=[],
                  save_strategy="no", eval_strategy="no", logging_strategy="no", disable_tqdm=True, seed=args.seed)
    if trl:
        from datasets import Dataset
        from trl import SFTConfig, SFTTrainer

        ds = Dataset.from_list([{"input_ids": ids, "completion_mask": [int(x != -100) for x in labels]}
                                for ids, labels in rows])
        trainer = SFTTrainer(model=net, args=SFTConfig(**common, max_length=args.max_length, packing=False,
                                                       completion_only_loss=True, dataset_num_proc=None),
                             train_dataset=ds, processing_class=tokenizer, peft_config=lora)
    else:
        if tokenizer.pad_token is None:   # only the padding of a batch (labels there are -100, attention 0)
            tokenizer.pad_token = tokenizer.eos_token
        ds = [{"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels} for ids, labels in rows]
        trainer = Trainer(model=get_peft_model(net, lora), args=TrainingArguments(**common), train_dataset=ds,
                          data_collator=DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100))
    t0 = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t0
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    return {"tokens": sum(len(ids) for ids, _ in rows) * args.epochs, "train_seconds": seconds,
            "trainable": trainable}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arm", choices=ARMS, required=True)
    ap.add_argument("--model", default="smollm2-135m", help="an alias or a folder (a tiny Llama: a smoke check)")
    ap.add_argument("--train", type=int, default=64)
    ap.add_argument("--eval", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=96)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--warmup", type=float, default=0.06)
    ap.add_argument("--lr-lora", type=float, default=1e-3)
    ap.add_argument("--lr-full", type=float, default=2e-5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", default="/tmp/tuneforge-lm-bench")
    args = ap.parse_args()
    started = time.perf_counter()
    if args.arm.startswith("tuneforge"):
        strategy = args.arm.split("-")[1]
        out = tuneforge_arm(args, strategy, args.lr_lora if strategy == "lora" else args.lr_full)
    else:
        out = hf_arm(args, trl=args.arm == "trl-lora")
    out.update(arm=args.arm, tokens_per_second=out["tokens"] / out["train_seconds"],
               peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               process_seconds=time.perf_counter() - started)
    print(json.dumps(out, default=float))


if __name__ == "__main__":
    main()

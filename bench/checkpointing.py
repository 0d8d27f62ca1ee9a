"""Activation memory and step time with and without ``train.gradient_checkpointing`` on a real model.

Activation memory is measured as the bytes autograd keeps for the backward pass (every tensor
saved during the forward, through ``torch.autograd.graph.saved_tensors_hooks``): device-independent,
and what checkpointing changes. Step time is the median of a few forward+backward passes in fp32.

    HF_HUB_OFFLINE=1 PYTHONPATH=src python bench/checkpointing.py --model minilm-l6 --batch 32 --length 128
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch


def measure(model, batch, steps: int) -> tuple[float, float]:
    saved = []

    def pack(t):
        saved.append(t.numel() * t.element_size())
        return t

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(batch).logsumexp(-1).mean().backward()
    times = []
    for _ in range(steps):
        model.net.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        model(batch).logsumexp(-1).mean().backward()
        times.append(time.perf_counter() - t0)
    return sum(saved) / 2 ** 20, statistics.median(times)


def main() -> None:
    from tuneforge.models import load_task_model
    from tuneforge.recipe.schema import ModelSection
    from tuneforge.training.model_options import enable_gradient_checkpointing

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="minilm-l6")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3)
    a = ap.parse_args()
    torch.manual_seed(0)
    ids = torch.randint(1000, 20000, (a.batch, a.length))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    for gc in (False, True):
        model = load_task_model(ModelSection(name=a.model), "text", 3, ["a", "b", "c"], False)
        if gc:
            enable_gradient_checkpointing(model.net)
        mb, seconds = measure(model, batch, a.steps)
        print(f"gradient_checkpointing={gc}: saved for backward {mb:.0f} MiB, forward+backward {seconds:.2f} s")


if __name__ == "__main__":
    main()

"""``metrics.json``'s ``train`` record: what training did and cost, counted as it ran."""
from __future__ import annotations

import resource
from typing import Optional

import torch

from ..data import batch_order, padding_fraction


def train_record(state, trainer, encoded, recipe, trainable: int, total: int, device,
                 seconds_this_process: Optional[float] = None) -> dict:
    """Seconds (optimizer steps), samples, tokens, steps, epochs run, stops, best step, parameters and peak
    memory. ``seconds_this_process``: after ``--resume``, the steps this process took."""
    return {"seconds": state.seconds, "samples": state.samples, "tokens": state.tokens,
            "samples_per_second": state.samples / state.seconds if state.seconds else 0.0,
            **({"seconds_this_process": seconds_this_process} if seconds_this_process is not None else {}),
            "steps": state.step, "epochs": epochs_run(state, trainer), "epochs_planned": trainer.epochs,
            "stop_reason": state.stop_reason,
            "skipped_batches": state.skipped_batches,
            "best_step": state.best_step, "best_validation": state.best_value,
            "stage_seconds": state.stage_seconds, "prefix_cache": trainer.prefix_cache.describe(),
            "padding_fraction": _padding(encoded, recipe),
            "trainable_parameters": trainable, "total_parameters": total,
            "peak_memory_mb": _peak_memory_mb(device)}


def epochs_run(state, trainer) -> float:
    """Epochs that actually ran (early stopping, pruning or max_steps end some early): whole ones plus the
    share of the last one's batches."""
    return round(state.epoch + (state.batch_in_epoch / trainer.n_batches if trainer.n_batches else 0.0), 3)


def _padding(encoded, recipe) -> Optional[float]:
    """Share of padded token positions in the first epoch's training batches (text only)."""
    if encoded.lengths is None:
        return None
    t = recipe.train
    batches = batch_order(len(encoded), t.batch_size, t.seed, 0,
                          lengths=encoded.lengths if t.group_by_length else None)
    return padding_fraction(encoded.lengths, batches)


def _peak_memory_mb(device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

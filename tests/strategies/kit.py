"""Shared by the strategy and regulariser tests: tiny models of three families, data for them,
a Trainer built from a few recipe keys, and spies that record what each stage did."""
from __future__ import annotations

import numpy as np
import torch

from tuneforge.data.encode import EncodedSplit
from tuneforge.models import load_task_model
from tuneforge.recipe import load_recipe
from tuneforge.recipe.schema import ModelSection
from tuneforge.strategies import Strategy
from tuneforge.tasks import TASKS
from tuneforge.training import Callback, Checkpointer, build_trainer  # noqa: F401 (re-exported)

from toy import Crash  # noqa: F401 (re-exported)

FAMILIES = ["bert", "vit", "cnn"]
K = 3


def build_tiny(root) -> dict:
    """Family -> (model section, modality) of a tiny model written under ``root``."""
    from helpers.tiny import tiny_bert, tiny_timm_cnn, tiny_vit

    cnn = tiny_timm_cnn(root / "cnn")
    return {"bert": (ModelSection(name=str(tiny_bert(root / "bert"))), "text"),
            "vit": (ModelSection(name=str(tiny_vit(root / "vit"))), "image"),
            "cnn": (ModelSection(name="timm:test_efficientnet", weights=str(cnn)), "image")}


def load(tiny_models, family: str):
    section, modality = tiny_models[family]
    torch.manual_seed(0)
    return load_task_model(section, modality, K, [str(i) for i in range(K)], False, image_size=32)


def split(model, n: int = 32, seed: int = 0) -> EncodedSplit:
    """A learnable split for ``model``: the class depends on the first token or the mean red value."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, size=n)
    if model.modality == "text":
        ids = [[2, int(10 + 7 * c + rng.integers(0, 3))] + rng.integers(50, 200, size=int(rng.integers(3, 9))).tolist()
               + [3] for c in y]
        return EncodedSplit(y.astype(np.int64), token_ids=ids, pad_id=0)
    pixels = torch.from_numpy(rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8))
    pixels[:, 0] = torch.from_numpy((y * 100)[:, None, None].astype(np.uint8))
    return EncodedSplit(y.astype(np.int64), pixels=pixels, spec=model.preprocessor)


def recipe(model, strategy: dict, **over):
    task = "text-classification" if model.modality == "text" else "image-classification"
    base = {"task": task, "model": {"name": "tiny"}, "data": {"train": "x"}, "strategy": strategy,
            "optimizer": {"lr": 1e-2, "weight_decay": 0.0}, "scheduler": {"name": "constant", "warmup": 0},
            "train": {"epochs": 1, "batch_size": 8, "seed": 0, "grad_clip": None}}
    return load_recipe(base, over)


def trainer(model, strategy: dict, data=None, run_dir=None, callbacks=(), regularisers=(), **over):
    """A Trainer as the pipeline builds one (strategy.prepare already applied by the caller)."""
    r = recipe(model, strategy, **over)
    s = Strategy.from_section(r.strategy)
    return build_trainer(model, TASKS.get(r.task), r, s, data if data is not None else split(model), run_dir=run_dir,
                         callbacks=callbacks, regularisers=regularisers), s


def params(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.net.named_parameters()}


def buffers(model) -> dict[str, torch.Tensor]:
    return {n: b.detach().clone() for n, b in model.net.named_buffers() if "num_batches" not in n}


def changed(a: dict, b: dict) -> set[str]:
    return {n for n in a if not torch.equal(a[n], b[n])}


def block_params(model, blocks) -> set[str]:
    return {p for b in blocks for p in model.layer_map.blocks[b].params}


class StageSpy(Callback):
    """Snapshots parameters and buffers at each stage boundary and the learning rates of every step."""

    order = 50

    def __init__(self, model, plan_starts):
        self.model, self.starts = model, list(plan_starts)
        self.params, self.buffers, self.lrs = [], [], []

    def on_train_start(self, trainer):
        self.params.append(params(self.model))
        self.buffers.append(buffers(self.model))

    def on_step_end(self, trainer):
        self.lrs.append(dict(trainer.current_lrs()))
        if trainer.state.step in self.starts[1:] or trainer.state.step == trainer.total_steps:
            self.params.append(params(self.model))
            self.buffers.append(buffers(self.model))

    def changed_in(self, stage: int) -> set[str]:
        return changed(self.params[stage], self.params[stage + 1])



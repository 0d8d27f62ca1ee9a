"""Elastic weight consolidation (Kirkpatrick et al., PNAS 2017) with a diagonal Fisher.

``penalty = weight / 2 * sum F * (w - w0)^2``: weights that mattered for a reference data
set (large Fisher information ``F``) are held close to their pre-trained values ``w0``;
the others are free to move. ``F`` is computed once, in ``setup``, with the model in
eval mode, so it is deterministic and the same again on resume.

The reference data set is ``data`` (a path or a packaged data set name, with the run's
column names unless ``text_column``/``image_column``/``label_column`` say otherwise; its
labels must be among the run's classes), or the run's own training split when ``data`` is
left out. ``samples`` caps the number of rows; ``batch_size: 1`` (the default) gives the
exact per-example Fisher, larger batches a faster approximation. ``fisher: sampled``
(default, classification only) draws labels from the model's own predictions, which is
the Fisher proper; ``fisher: empirical`` uses the data set's labels.

In a continual sequence (docs/continual.md) the Fisher and the anchors come from the previous
step's model, and the reference data (when ``data`` is left out) are the training splits of every
earlier task, so the penalty protects what the earlier tasks needed; the first step has no
earlier task and no penalty.

Example recipe::

    regularisers: [{name: ewc, weight: 100, data: tweets, samples: 128}]
"""
from __future__ import annotations

from typing import Literal, Optional

import numpy as np
import torch
from pydantic import Field

from ..errors import RecipeError, TuneforgeError
from .anchors import anchored_names, on_device, snapshot, weighted_distance
from .base import REGULARISERS, Regulariser, RegulariserOptions


class EWCOptions(RegulariserOptions):
    data: Optional[str] = Field(None, description="reference data: a path or packaged data set name "
                                                  "(default: the run's training split)")
    text_column: Optional[str] = Field(None, description="text column of the reference data")
    image_column: Optional[str] = Field(None, description="image column of the reference data")
    label_column: Optional[str] = Field(None, description="label column of the reference data")
    samples: int = Field(64, ge=1, description="rows of the reference data used for the Fisher")
    batch_size: int = Field(1, ge=1, description="rows per gradient (1: exact per-example Fisher)")
    fisher: Literal["sampled", "empirical"] = Field("sampled", description="labels drawn from the model "
                                                                           "(sampled) or the data's (empirical)")
    seed: int = Field(0, description="seed of the row choice and of sampled labels")


@REGULARISERS.register("ewc", "elastic weight consolidation: Fisher-weighted distance from pre-trained weights")
class EWC(Regulariser):
    name = "ewc"
    Options = EWCOptions

    def setup(self, model, context=None) -> None:
        split = self._reference(model, context)
        if split is None:  # the first step of a continual sequence: nothing learnt yet to protect
            self.anchors, self.fisher = {}, {}
            return
        names = anchored_names(model)
        self.anchors = snapshot(model, names)
        self.fisher = diagonal_fisher(model, split, context.task, names, self.options)

    def penalty(self, model, batch, outputs):
        self.anchors = on_device(self.anchors, outputs)
        self.fisher = on_device(self.fisher, outputs)
        return self.options.weight / 2 * weighted_distance(model, self.anchors, self.fisher)

    def _reference(self, model, context):
        o = self.options
        from ..data import encode_split, load_data

        step = getattr(context, "continual", None)
        if o.data is None and step is not None:
            return None if step.previous_train is None else encode_split(step.previous_train, model,
                                                                         context.recipe.data)
        if o.data is None:
            return context.encoded["train"]

        run = context.recipe.data
        section = run.model_copy(update={
            "train": o.data, "validation": None, "test": None, "max_train_samples": None,
            "text_column": o.text_column or run.text_column, "image_column": o.image_column or run.image_column,
            "label_column": o.label_column or run.label_column,
            "labels": context.data.label_names if context.task.has_classes else None})
        try:
            bundle = load_data(section, context.task, o.seed)
        except TuneforgeError as e:
            raise type(e)(problems=[f"regularisers[ewc].data: {p}" for p in e.problems]) from None
        scale = getattr(context, "scaler", None)
        return encode_split(bundle.train, model, section, targets_transform=scale.transform if scale else None)


def diagonal_fisher(model, split, task, names: list[str], o: EWCOptions) -> dict[str, torch.Tensor]:
    """Mean squared gradient of the log-likelihood per parameter, over ``o.samples`` rows of ``split``."""
    if o.fisher == "sampled" and task.probe_kind != "softmax":
        raise RecipeError("regularisers[ewc].fisher: 'sampled' needs a classification task; use 'empirical'")
    rng = np.random.default_rng(o.seed)
    rows = np.sort(rng.permutation(len(split))[:o.samples])
    params = dict(model.net.named_parameters())
    was_training = model.training
    flags = {n: p.requires_grad for n, p in params.items()}
    for n, p in params.items():
        p.requires_grad_(n in names)
    fisher = {n: torch.zeros_like(params[n]) for n in names}
    gen = torch.Generator().manual_seed(o.seed)
    model.eval()
    try:
        for start in range(0, len(rows), o.batch_size):
            idx = rows[start:start + o.batch_size]
            batch = split.batch(idx)
            outputs = model(batch)
            if o.fisher == "sampled":
                probs = torch.softmax(outputs.detach().float(), -1)
                targets = torch.multinomial(probs, 1, generator=gen).squeeze(1)
            else:
                targets = batch["targets"]
            model.net.zero_grad(set_to_none=True)
            task.loss(outputs, targets).backward()
            for n in names:
                if params[n].grad is not None:
                    fisher[n] += params[n].grad.detach().pow(2) * len(idx)
    finally:
        model.net.zero_grad(set_to_none=True)
        for n, p in params.items():
            p.requires_grad_(flags[n])
        model.train(was_training)
    return {n: f / len(rows) for n, f in fisher.items()}

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

Two choices make the Fisher mean something and ``weight`` usable:

* **the head it is computed through.** The run's head is new and random: gradients through
  it (and, for the sampled Fisher, labels drawn from its predictions) say nothing about
  what the pre-trained body knows. So the Fisher is computed on a copy of the model whose
  head is first *solved* (L-BFGS, ``head/solver.py``) on the pre-trained features
  of the reference rows: the best linear read-out of the pre-trained body for that data.
  Where the head cannot be solved (``head_start.head_solvability`` says why) or the model
  keeps its pre-trained head (causal LM), the model's own head is used and ``note`` says so.
  At a later step of a continual sequence the head is not new: it was trained on the earlier
  tasks, so the Fisher is read through the previous step's model as it is.
  Only the body (the pre-trained parameters, ``anchors.anchored_names``) is penalised.
* **its scale.** Raw Fisher values are tiny (a mean of 1e-5 on the tests' tiny BERT through its
  random head, 6e-4 through a solved one), so a raw ``weight`` has to be huge and is hard to choose. ``normalise: mean``
  (default) divides the Fisher by its mean over the anchored parameters: the penalty is then
  ``weight / 2 * sum (F / mean F) * (w - w0)^2``, on the same scale as L2-SP's
  ``weight * sum (w - w0)^2`` (EWC at weight 2 * lambda and L2-SP at lambda cost the same for
  a displacement spread evenly over parameters; EWC moves the cost onto the important ones).
  ``normalise: none`` keeps the Fisher proper (Kirkpatrick et al.'s scale).

In a continual sequence (docs/continual.md) the Fisher and the anchors come from the previous
step's model, and the reference data (when ``data`` is left out) are the training splits of every
earlier task, so the penalty protects what the earlier tasks needed; the first step has no
earlier task and no penalty.

Example recipe::

    regularisers: [{name: ewc, weight: 0.5, data: tweets, samples: 128}]
"""
from __future__ import annotations

import copy
from typing import Literal, Optional

import numpy as np
import torch
from pydantic import Field

from ..errors import RecipeError, TuneforgeError
from .anchors import anchored_names, on_device, snapshot, weighted_distance
from .base import REGULARISERS, Regulariser, RegulariserOptions
from ..head.start import HeadData, captured_inputs, head_solvability, solve_model_head
from ..data import encode_split, load_data


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
    normalise: Literal["mean", "none"] = Field("mean", description="divide the Fisher by its mean over the "
                                                                   "penalised parameters (mean) or keep it raw")


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
        if getattr(context, "continual", None) is not None and self.options.data is None:
            # a later continual step: the head was trained on the earlier tasks, so read through it as is
            reader, self.note = model, "the previous step's model, head included (trained on the earlier tasks)"
        else:
            reader, self.note = fisher_model(model, split, context.task, self.options)
        fisher = diagonal_fisher(reader, split, context.task, names, self.options)
        self.fisher_mean = float(sum(f.sum() for f in fisher.values()) / max(1, sum(f.numel() for f in fisher.values())))
        if self.options.normalise == "mean" and self.fisher_mean > 0:
            fisher = {n: f / self.fisher_mean for n, f in fisher.items()}
        self.fisher = fisher

    def penalty(self, model, batch, outputs):
        self.anchors = on_device(self.anchors, outputs)
        self.fisher = on_device(self.fisher, outputs)
        return self.options.weight / 2 * weighted_distance(model, self.anchors, self.fisher)

    def _reference(self, model, context):
        o = self.options

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


def fisher_model(model, split, task, o: EWCOptions):
    """(model to compute the Fisher through, note): a copy of ``model`` whose new head is solved on the
    pre-trained features of the reference rows, or ``model`` itself (with the reason) when that can't be."""

    if not model.new_head:
        return model, "the model's own pre-trained head"
    device = next(model.net.parameters()).device
    ok, why, _ = head_solvability(model, task, split, device)
    if not ok:
        return model, f"the new (untrained) head: it cannot be solved ({why})"
    reader = copy.deepcopy(model)
    rows = _rows(split, o)
    xs, ys = [], []
    per_example = getattr(split, "per_example", None)   # per-token inputs -> one row per word
    for start in range(0, len(rows), 64):
        batch = {k: v.to(device) for k, v in split.batch(rows[start:start + 64]).items()}
        x, y = captured_inputs(reader, batch), batch["targets"]
        if per_example is not None:
            x, y = per_example(batch, x), per_example(batch, y)
        xs.append(x.float().cpu().numpy())
        ys.append(y.cpu().numpy())
    targets = np.concatenate(ys)
    if task.probe_kind == "softmax" and len(np.unique(targets)) < 2:
        return model, "the new (untrained) head: the reference rows hold a single class"
    solve_model_head(reader, task, HeadData((np.concatenate(xs), targets)), o.seed, scaling="none")
    return reader, "a head solved on the pre-trained features of the reference rows"


def _rows(split, o: EWCOptions) -> np.ndarray:
    rng = np.random.default_rng(o.seed)
    return np.sort(rng.permutation(len(split))[:o.samples])


def diagonal_fisher(model, split, task, names: list[str], o: EWCOptions) -> dict[str, torch.Tensor]:
    """Mean squared gradient of the log-likelihood per parameter, over ``o.samples`` rows of ``split``."""
    if o.fisher == "sampled" and task.probe_kind != "softmax":
        raise RecipeError("regularisers[ewc].fisher: 'sampled' needs a classification task; use 'empirical'")
    rows = _rows(split, o)
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

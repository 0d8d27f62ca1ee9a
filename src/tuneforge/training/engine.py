"""How the trainer's optimizer steps are made: the engine, chosen by the run at setup.

The training loop is the same for every run; what differs between ordinary training and a run
with guarantees about its steps (differentially private SGD, in ``tuneforge.privacy``) is a handful
of decisions, which the trainer asks its engine for instead of testing which kind of run it is:

* :meth:`~PlainEngine.class_balance`: class weights or class-balanced sampling (``train.class_balance``);
* :meth:`~PlainEngine.batches`: each epoch's batches of row indices;
* :meth:`~PlainEngine.wrap`: the model and optimizer that train, once the parameters that some stage
  trains require grad;
* :meth:`~PlainEngine.grad_clip`: the clip applied to the whole gradient before a step;
* :meth:`~PlainEngine.freeze_batchnorm`: modes the engine needs beyond the strategy's;
* :meth:`~PlainEngine.empty_batch`: what a step whose batch holds no row does;
* :meth:`~PlainEngine.state_dict` / :meth:`~PlainEngine.load_state_dict`: what a checkpoint keeps;
* :meth:`~PlainEngine.close` (at the end of training) and :meth:`~PlainEngine.describe` (metrics.json);
* :attr:`~PlainEngine.head_unsolvable_why`: why the head may not be solved on the training data;
* :attr:`~PlainEngine.prefix_cache_blocker`: why the frozen-prefix cache cannot be used.

:class:`PlainEngine` is ordinary training and the default. Example::

    engine = PlainEngine()
    trainer = build_trainer(model, task, recipe, strategy, train_data, engine=engine)
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..data.balance import ClassBalance
from ..data.encode import batch_order


class PlainEngine:
    """Ordinary training: the recipe's class balance, shuffled (or grouped) batches, whole-gradient clipping."""

    head_unsolvable_why: Optional[str] = None   # a reason the head may not be solved, whatever the model
    prefix_cache_blocker: Optional[str] = None  # a reason the frozen-prefix cache cannot hold (see prefix_cache/)

    def start(self, n_train: int, batch_size: int, total_steps: int, seed: int) -> None:
        """Called once the trainer knows its step budget (before :meth:`wrap`)."""

    def class_balance(self, task, option: str, targets, label_names) -> ClassBalance:
        return ClassBalance.resolve(task, option, targets, label_names)

    def batches(self, n_examples: int, train, epoch: int, n_batches: int, lengths=None,
                classes=None) -> list[np.ndarray]:
        """The epoch's batches (see :func:`~tuneforge.data.encode.batch_order`)."""
        return batch_order(n_examples, train.batch_size, train.seed, epoch, lengths=lengths, classes=classes)

    def wrap(self, model, optimizer, flags):
        """The model and optimizer that train. Every parameter some stage trains requires grad on entry;
        ``flags`` holds each parameter's own ``requires_grad``, put back here (each stage sets its own)."""
        for p, flag in flags:
            p.requires_grad_(flag)
        return model, optimizer

    def grad_clip(self, clip: Optional[float]) -> float:
        """The norm the whole gradient is clipped to before a step (``train.grad_clip``; inf when unset)."""
        return clip if clip else float("inf")

    def freeze_batchnorm(self, net) -> None:
        """Modes to set after the trainer's own (train mode, frozen blocks per the strategy): none."""

    def empty_batch(self) -> None:
        raise AssertionError("a batch without rows: only a Poisson-sampled engine makes one")

    def state_dict(self) -> Optional[dict]:
        """What a checkpoint keeps of this engine (None: nothing)."""
        return None

    def load_state_dict(self, state: Optional[dict]) -> None:
        """Restore :meth:`state_dict` on resume."""

    def close(self) -> None:
        """The end of training (before evaluation, merging and saving)."""

    def describe(self) -> Optional[dict]:
        """A record for metrics.json (None: none)."""
        return None

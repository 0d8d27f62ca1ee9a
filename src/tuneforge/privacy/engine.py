"""DP-SGD for the trainer, through Opacus: per-example gradients, clipping, noise, accounting.

The trainer stays the same loop; under ``privacy:`` the run gives it a :class:`PrivateEngine`
(the trainer's engine protocol, :mod:`tuneforge.training.engine`; :func:`engine_for` chooses),
which asks :class:`PrivateTraining` for three things:

* :meth:`PrivateTraining.wrap`: the model becomes Opacus's ``GradSampleModule`` (per-example
  gradients of the parameters that train) and the optimizer its ``DPOptimizer`` (clips each
  example's gradient to ``max_grad_norm``, adds Gaussian noise of std ``noise_multiplier *
  max_grad_norm``, divides by the expected batch size); the accountant records every step
  through the optimizer's step hook.
* :meth:`PrivateTraining.batches`: each epoch's batches by Poisson sampling (every example joins
  a batch independently with probability ``q = batch_size / N``, the sampling the accountant's
  amplification assumes), drawn from a generator seeded by (seed, epoch) so a resumed run sees
  the same batches. A batch may be empty; its step adds noise only (:meth:`empty_batch`).
* :meth:`state_dict` / :meth:`load_state_dict`: the accountant's history, checkpointed with the
  train state, so the epsilon of a resumed run counts the steps taken before it was killed.

The noise multiplier for a target ``epsilon`` comes from Opacus's ``get_noise_multiplier`` over
the planned number of steps; the epsilon reported is the accountant's over the steps taken.

Example::

    dp = PrivateTraining(recipe.privacy, n_train=len(data), batch_size=32, total_steps=300, seed=1)
    model, optimizer = dp.wrap(model, optimizer)
    for idx in dp.batches(epoch=0, n_batches=10): ...
    dp.epsilon()
"""
from __future__ import annotations

import warnings
from typing import Optional

import numpy as np
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from ..data.balance import ClassBalance
from ..data.encode import batch_order
from ..extras import require_extra
from ..training.engine import PlainEngine
from .checks import PRIVACY_NEEDS


def default_delta(n_train: int) -> float:
    """1/(10 N): well below 1/N, the level at which "leak one whole example" would already satisfy it."""
    return 1.0 / (10 * max(1, n_train))


class PrivateTraining:
    """The DP-SGD side of one training run (see the module docstring)."""

    def __init__(self, section, n_train: int, batch_size: int, total_steps: int, seed: int):
        require_extra("privacy", PRIVACY_NEEDS)   # a missing extra is one message, not a traceback
        from opacus.accountants import create_accountant  # Opacus is imported by private runs only
        from opacus.accountants.utils import get_noise_multiplier

        self.section, self.n_train, self.seed = section, n_train, seed
        self.batch_size = batch_size
        self.sample_rate = min(1.0, batch_size / max(1, n_train))
        self.delta = section.delta if section.delta is not None else default_delta(n_train)
        self.planned_steps = total_steps
        self.accountant = create_accountant(mechanism=section.accountant)
        if section.noise_multiplier is not None:
            self.noise_multiplier = float(section.noise_multiplier)
        else:
            self.noise_multiplier = float(get_noise_multiplier(
                target_epsilon=section.epsilon, target_delta=self.delta, sample_rate=self.sample_rate,
                steps=max(1, total_steps), accountant=section.accountant))
        self.module = None      # Opacus's GradSampleModule once wrapped
        self.optimizer = None   # Opacus's DPOptimizer once wrapped

    def wrap(self, model: torch.nn.Module, optimizer):
        """Model and optimizer for DP-SGD. The parameters that train must already require grad
        (Opacus hooks only modules with trainable parameters when it wraps)."""
        from opacus import GradSampleModule
        from opacus.optimizers import DPOptimizer

        # Opacus's backward hooks on a first trained layer whose input needs no gradient (a head on frozen
        # features) make torch warn at every step; the per-example gradients are right, the warning is noise
        warnings.filterwarnings("ignore", message="Full backward hook is firing when gradients are computed")
        self.module = GradSampleModule(model, batch_first=True, loss_reduction="mean", strict=True)
        self.optimizer = DPOptimizer(optimizer, noise_multiplier=self.noise_multiplier,
                                     max_grad_norm=self.section.max_grad_norm,
                                     expected_batch_size=self.batch_size, loss_reduction="mean")
        self.optimizer.attach_step_hook(self.accountant.get_optimizer_hook_fn(sample_rate=self.sample_rate))
        return self.module, self.optimizer

    def batches(self, n_examples: int, epoch: int, n_batches: int) -> list[np.ndarray]:
        """The epoch's ``n_batches`` batches: Poisson-sampled (each example in each batch with
        probability ``sample_rate``), or shuffled fixed-size ones with ``poisson_sampling: false``."""
        if not self.section.poisson_sampling:
            return batch_order(n_examples, self.batch_size, self.seed, epoch)
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch * 7_919 + 17)
        return [torch.nonzero(torch.rand(n_examples, generator=gen) < self.sample_rate).flatten().numpy()
                for _ in range(n_batches)]

    def empty_batch(self) -> None:
        """An empty Poisson batch: zero per-example gradients, so the coming step adds noise only
        (skipping it would reveal that the batch was empty)."""
        for p in self.optimizer.params:
            p.grad_sample = torch.zeros((0, *p.shape), dtype=p.dtype, device=p.device)

    @staticmethod
    def freeze_batchnorm(net: torch.nn.Module) -> None:
        """Frozen BatchNorm layers in eval mode: running statistics updated from a batch would mix
        examples (and leak them through buffers); trainable BatchNorm is refused before training."""
        for m in net.modules():
            if isinstance(m, _BatchNorm) and not any(p.requires_grad for p in m.parameters()):
                m.eval()

    def steps(self) -> int:
        return int(sum(h[2] for h in self.accountant.history))

    def epsilon(self) -> float:
        """Epsilon spent so far at ``delta``, by the accountant (0 before the first step)."""
        return float(self.accountant.get_epsilon(delta=self.delta)) if self.accountant.history else 0.0

    def state_dict(self) -> dict:
        return {"history": [list(h) for h in self.accountant.history], "mechanism": self.accountant.mechanism()}

    def load_state_dict(self, state: Optional[dict]) -> None:
        self.accountant.history = [tuple(h) for h in (state or {}).get("history", [])]

    def close(self) -> None:
        """Remove Opacus's hooks and per-example attributes (before evaluation, merging and saving)."""
        if self.module is not None:
            self.module.cleanup()

    def describe(self) -> dict:
        """metrics.json's ``privacy`` record."""
        s = self.section
        return {"epsilon": self.epsilon(), "target_epsilon": s.epsilon, "delta": self.delta,
                "delta_default": s.delta is None, "noise_multiplier": self.noise_multiplier,
                "noise_from": "privacy.noise_multiplier" if s.noise_multiplier is not None else
                "Opacus get_noise_multiplier for the target epsilon over the planned steps",
                "sample_rate": self.sample_rate, "expected_batch_size": self.batch_size,
                "train_examples": self.n_train, "steps": self.steps(), "planned_steps": self.planned_steps,
                "max_grad_norm": s.max_grad_norm, "accountant": s.accountant, "poisson_sampling": s.poisson_sampling,
                "engine": "opacus"}


class PrivateEngine(PlainEngine):
    """The trainer's engine under ``privacy:`` (see :mod:`tuneforge.training.engine`): DP-SGD by
    :class:`PrivateTraining`, which it builds once the trainer knows its step budget."""

    head_unsolvable_why = "privacy: the head is trained by DP-SGD (a solve on the training data is not private)"
    prefix_cache_blocker = ("privacy: Poisson-sampled batches do not visit every example once per epoch, "
                            "as recording needs")

    def __init__(self, section):
        self.section = section
        self.training: Optional[PrivateTraining] = None

    def start(self, n_train: int, batch_size: int, total_steps: int, seed: int) -> None:
        self.training = PrivateTraining(self.section, n_train, batch_size, total_steps, seed)

    def class_balance(self, task, option: str, targets, label_names) -> ClassBalance:
        return ClassBalance("none", "privacy: class weights and class-balanced sampling are refused (docs/privacy.md)")

    def batches(self, n_examples: int, train, epoch: int, n_batches: int, lengths=None, classes=None):
        return self.training.batches(n_examples, epoch, n_batches)  # Poisson-sampled

    def wrap(self, model, optimizer, flags):
        """One stage, whose flags hold now: Opacus hooks the layers that train (``flags`` stay as they are)."""
        return self.training.wrap(model, optimizer)

    def grad_clip(self, clip: Optional[float]) -> float:
        return float("inf")  # DP-SGD clips per example

    def freeze_batchnorm(self, net) -> None:
        self.training.freeze_batchnorm(net)

    def empty_batch(self) -> None:
        self.training.empty_batch()

    def state_dict(self) -> dict:
        """The accountant's history: a resumed run's epsilon counts the steps before the checkpoint."""
        return self.training.state_dict()

    def load_state_dict(self, state: Optional[dict]) -> None:
        self.training.load_state_dict(state)

    def close(self) -> None:
        self.training.close()

    def describe(self) -> dict:
        """metrics.json's ``privacy`` record."""
        return self.training.describe()


def engine_for(recipe) -> PlainEngine:
    """The engine a run trains with: DP-SGD under ``privacy:``, else plain training."""
    return PlainEngine() if recipe.privacy is None else PrivateEngine(recipe.privacy)

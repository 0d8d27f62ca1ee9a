"""The training loop: short and linear, on Hugging Face Accelerate.

Read top to bottom: for each epoch, for each micro-batch: forward, loss, backward; every
``grad_accum`` micro-batches one optimizer step with the learning rates of the current
stage of the strategy's plan. Evaluate at each epoch end (or every N steps), checkpoint,
let callbacks react. Batch order, augmentation and stage are pure functions of
(seed, epoch, batch, step), and the RNG states are checkpointed, so a resumed run
continues exactly where the interrupted one stopped.

The trainer takes a recipe already resolved (:mod:`.resolve`: every unset setting filled, once,
before it is built) and never changes it, and an engine chosen by the run (:mod:`.engine`) for
the few decisions that differ between kinds of training (batch order, class balance, what wraps
the model and optimizer, gradient clipping). :func:`build_trainer` does both for callers that
start from a recipe.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, set_seed

from ..errors import TrainingError
from ..head.start import HeadData, head_inputs, solve_model_head
from ..models.precision import autocast_dtype, resolve_precision
from ..prefix_cache.cache import PrefixCache
from ..strategies.base import freeze_feature_encoder
from ..strategies.param_groups import build_param_groups
from .callbacks import CallbackList, MetricTracker
from .engine import PlainEngine
from .faults import fault_point, poisoned_loss
from .optimizers import build_optimizer
from .prefetch import BatchWorkers, EpochBatches
from .resolve import Resolved, resolve, step_counts
from .run_checkpoints import RunCheckpoints
from .schedules import SCHEDULERS, warmup_steps
from .state import TrainState


class Trainer:
    def __init__(self, model, task, resolved: Resolved, train_data, evaluate: Optional[Callable[[], dict]] = None,
                 run_dir: Optional[Path] = None, callbacks=(), tracker: Optional[MetricTracker] = None,
                 accelerator: Optional[Accelerator] = None, regularisers=(), engine: Optional[PlainEngine] = None):
        recipe, strategy = resolved.recipe, resolved.strategy
        self.recipe, self.defaults = recipe, resolved.defaults  # as resolved: the trainer never changes them
        self.head_solvable, self.head_unsolvable_why = resolved.head_solvable, resolved.head_unsolvable_why
        self.features_are_head_inputs = resolved.features_are_head_inputs
        self.engine = engine or PlainEngine()
        self.task, self.strategy = task, strategy
        self.train_data, self.evaluate_fn = train_data, evaluate
        self.run_dir, self.tracker = run_dir, tracker
        self.callbacks = CallbackList(callbacks)
        self.regularisers = list(regularisers)  # each: penalty(model, batch, outputs) -> scalar tensor
        self.penalty_names = penalty_names(self.regularisers)
        self._penalty_sums: dict[str, float] = {}
        self.last_penalties: dict[str, float] = {}  # each regulariser's penalty in the last optimizer step
        t = recipe.train
        self.head_data: Optional[Callable[[bool], HeadData]] = None  # the pipeline shares its features here
        self.head_solution: Optional[dict] = None
        self.solved_validation_inputs = None   # set by _solve_head, taken by the step-0 evaluation (training/evaluator.py)
        # Under DDP, stages freeze and thaw parameters: some receive no gradient in a given step.
        ddp = DistributedDataParallelKwargs(find_unused_parameters=True)
        self.accelerator = accelerator or Accelerator(cpu=not torch.cuda.is_available(), kwargs_handlers=[ddp])
        self.precision = resolve_precision(t.precision, self.accelerator.device)
        # fp16 overflows where bf16 does not: the loss is scaled up before backward and the step skipped
        # (and the scale halved) when a gradient overflows; a no-op in every other precision
        self.scaler = torch.amp.GradScaler(self.accelerator.device.type, enabled=self.precision == "fp16")
        set_seed(t.seed)
        self.groups = build_param_groups(model.net, model.layer_map)
        self.n_batches, self.steps_per_epoch, self.total_steps = step_counts(t, len(train_data))
        # class imbalance (train.class_balance): the task's loss weights, or classes sampled evenly
        self.balance = self.engine.class_balance(task, t.class_balance, getattr(train_data, "targets", None),
                                                 getattr(model, "label_names", None))
        self.loss_weights = None if self.balance.weights is None else \
            torch.as_tensor(self.balance.weights, dtype=torch.float32, device=self.accelerator.device)
        # passed only when set, so a task without class weights keeps its two-argument loss
        self._loss_args = () if self.loss_weights is None else (self.loss_weights,)
        self._loss_kwargs = {"label_smoothing": t.label_smoothing} if t.label_smoothing else {}
        self.plan = freeze_feature_encoder(strategy.plan(model.layer_map, self.steps_per_epoch, self.total_steps),
                                           model.layer_map, strategy.options)
        if strategy.solves_head and not self.plan.solves_head:  # warm head: solved before the first stage
            self.plan.stages[0].solve_head = True
        if self.plan.max_steps is not None:  # a solved linear probe takes no SGD step
            self.total_steps = min(self.total_steps, self.plan.max_steps)
        self.epochs = math.ceil(self.total_steps / self.steps_per_epoch)
        self.optimizer = build_optimizer(self.groups, recipe.optimizer)
        self.unwrapped = model
        self.engine.start(len(train_data), t.batch_size, self.total_steps, t.seed)
        # DDP all-reduces only the parameters that require grad when it wraps the model, so every
        # parameter some stage trains must require grad now (and no other: a LoRA base model is
        # never synchronised); each stage then sets its own flags.
        ever = {id(p) for g in self.groups if any(s.settings(g)[0] for s in self.plan.stages) for p in g.params}
        flags = [(p, p.requires_grad) for g in self.groups for p in g.params]
        for p, _ in flags:
            p.requires_grad_(id(p) in ever)
        self.model, self.optimizer = self.accelerator.prepare(model, self.optimizer)
        self.model, self.optimizer = self.engine.wrap(self.model, self.optimizer, flags)
        self.schedule = SCHEDULERS.get(recipe.scheduler.name)
        self.state = TrainState()
        self.checkpoints = RunCheckpoints(run_dir, self.accelerator, t)
        self.seconds_before = 0.0  # training seconds of earlier processes of this run (set on resume)
        self._stage = -1
        self._stop: Optional[str] = None
        self.last_loss: Optional[float] = None
        self.last_metrics: dict = {}
        self.head = model.layer_map.head_index
        self.prefix_cache = PrefixCache(self)  # frozen bottom blocks computed once; off when it can't be exact

    def _solve_head(self) -> None:
        """Fit the head to its optimum on the frozen features (before step 0; never on resume)."""
        device = self.accelerator.device
        if self.head_data is not None:
            data = self.head_data(self.features_are_head_inputs)
        else:
            data = HeadData(head_inputs(self.unwrapped, self.train_data, self.recipe.evaluate.batch_size, device))
        # a head that stays as solved takes the baseline's per-feature standardisation; one that the
        # body keeps training under needs weights without 1/std blow-ups (see head/solver.py)
        scaling = "feature" if self.total_steps == 0 else "none"
        self.head_solution = solve_model_head(self.unwrapped, self.task, data, self.recipe.train.seed,
                                              scaling, warm_start=self.total_steps > 0).record
        # the validation features are the head's inputs: step 0's evaluation applies the head to them
        per_token = self.task.per_token_head
        shared = self.head_data is not None and self.features_are_head_inputs and not per_token
        self.solved_validation_inputs = data.validation[0] if shared and data.validation is not None else None

    # -- schedule --------------------------------------------------------------------------------
    def _apply_stage(self, step: Optional[int] = None) -> None:
        step = self.state.step if step is None else step
        idx = self.plan.stage_index(step)
        if idx != self._stage:
            if self._stage != -1:
                fault_point("stage")
            stage = self.plan.stages[idx]
            for g in self.groups:
                trains, _ = stage.settings(g)
                for p in g.params:
                    p.requires_grad_(trains)
            self._stage = idx
            self._set_modes()
            self.prefix_cache.enter_stage(idx)
        stage = self.plan.stages[idx]
        start, end = self.plan.stage_bounds(idx, self.total_steps) if stage.restart_schedule else (0, self.total_steps)
        span = end - start
        mult = self.schedule(step - start, span, warmup_steps(self.recipe.scheduler.warmup, span))
        opt = self.recipe.optimizer
        for g, pg in zip(self.groups, self.optimizer.param_groups):
            trains, scale = stage.settings(g)
            base = opt.head_lr if (g.block == self.head and opt.head_lr) else opt.lr
            pg["lr"] = base * scale * mult if trains else 0.0

    def _set_modes(self) -> None:
        """Train mode, except frozen blocks stay in eval mode when the strategy says so (and what
        the engine keeps in eval mode: under DP-SGD, every frozen BatchNorm layer)."""
        self.model.train()
        self.engine.freeze_batchnorm(self.unwrapped.net)
        if not self.strategy.frozen_blocks_eval:
            return
        stage = self.plan.stages[self._stage]
        net = self.unwrapped.net
        for i, block in enumerate(self.unwrapped.layer_map.blocks):
            if i not in stage.trainable:
                for name in block.modules:
                    net.get_submodule(name).eval()

    def current_lrs(self) -> dict[str, float]:
        return {g.name: pg["lr"] for g, pg in zip(self.groups, self.optimizer.param_groups)}

    def request_stop(self, reason: str) -> None:
        self._stop = reason

    # -- the loop --------------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> TrainState:
        with BatchWorkers(self.train_data, self.recipe.train.workers) as self._workers:
            return self._fit(resume)

    def _fit(self, resume: bool) -> TrainState:
        t = self.recipe.train
        if resume:
            self._resume()
        elif self.plan.solves_head:
            self._solve_head()
        self.callbacks("on_train_start", self)
        if not resume and self.plan.solves_head and self.total_steps > 0 and self.tracker is not None:
            # the solved head is a candidate too: when training only makes validation worse (too high
            # a rate for this body, BatchNorm statistics drifting on a small set...), restore_best ends
            # the run with the solved head instead of below its own frozen baseline
            self._evaluate()
        if self.total_steps == 0 and not resume:  # nothing to step (a solved linear probe): score, keep
            self._stage = 0
            for pg in self.optimizer.param_groups:
                pg["lr"] = 0.0
            self._evaluate()
            self.checkpoint()
        world, rank = self.accelerator.num_processes, self.accelerator.process_index
        lengths = self.train_data.lengths if t.group_by_length else None
        while self.state.epoch < self.epochs and self._stop is None:
            epoch = self.state.epoch
            batches = self.engine.batches(len(self.train_data), t, epoch, self.n_batches, lengths=lengths,
                                          classes=self.balance.classes)
            if self.state.batch_in_epoch < len(batches):  # (a resume at an epoch's end keeps the last step's)
                self._apply_stage()
            self._set_modes()
            if self.state.batch_in_epoch == 0:  # the epoch's running loss is checkpointed: resume continues it
                self.state.loss_sum, self.state.loss_n = 0.0, 0
            source = EpochBatches(self.train_data, batches, t.seed, epoch, self._workers, rank, world)
            try:
                self._epoch(source, batches, epoch, world)
            finally:
                source.close()
            self.last_loss = self.state.loss_sum / self.state.loss_n if self.state.loss_n else self.last_loss
            finished_epoch = self.state.batch_in_epoch >= len(batches)
            if finished_epoch:
                self.state.epoch += 1
                self.state.batch_in_epoch = 0
            if not t.eval_every_steps or self.state.step % t.eval_every_steps:
                self._evaluate()
            self.callbacks("on_epoch_end", self)
            if self.state.step >= self.total_steps:
                break
        self.state.stop_reason = self._stop or "completed"
        self.engine.close()
        self.checkpoints.restore_best(self.unwrapped.net, self.state)
        self.prefix_cache.close()
        self.callbacks("on_train_end", self)
        return self.state

    def _epoch(self, source, batches, epoch: int, world: int) -> None:
        """Train on the epoch's batches from ``state.batch_in_epoch`` on, until its end, the last step or a stop."""
        t = self.recipe.train
        while self.state.batch_in_epoch < len(batches):
            bi = self.state.batch_in_epoch
            tick = time.perf_counter()
            last_micro = (bi + 1) % t.grad_accum == 0 or bi + 1 == len(batches)
            if bi % t.grad_accum == 0:  # a new optimizer step: its stage's flags must hold before forward
                self._apply_stage()
            if len(source.rows(bi)) == 0:  # only a Poisson-sampled batch is empty: the engine steps on it
                self.engine.empty_batch()
            elif not self._forward_backward(*source.get(bi), epoch, last_micro, world):
                self.state.batch_in_epoch += 1
                continue
            self.state.batch_in_epoch += 1
            if last_micro:
                self._optimizer_step(source.rows(bi))
                n_micro = (bi % t.grad_accum) + 1
                self.last_penalties = {k: v / n_micro for k, v in self._penalty_sums.items()}
                self._penalty_sums = {}
            dt = time.perf_counter() - tick
            self.state.seconds += dt
            name = self.plan.stages[self._stage].name
            self.state.stage_seconds[name] = self.state.stage_seconds.get(name, 0.0) + dt
            if last_micro:
                self.last_loss = self.state.loss_sum / max(1, self.state.loss_n)
                if t.eval_every_steps and self.state.step % t.eval_every_steps == 0:
                    self._evaluate()  # before on_step_end, so that a checkpoint there includes it
                self.callbacks("on_step_end", self)
                fault_point("step")
                if self.state.step >= self.total_steps or self._stop:
                    return

    def _forward_backward(self, idx, batch, epoch: int, last_micro: bool, world: int) -> bool:
        """Forward, loss and backward of one micro-batch; False when its loss was not finite (skipped)."""
        t = self.recipe.train
        batch = {k: v.to(self.accelerator.device) for k, v in batch.items()}
        with torch.autocast(self.accelerator.device.type, dtype=autocast_dtype(self.precision),
                            enabled=self.precision in ("bf16", "fp16")):
            with self.prefix_cache.feeding(idx, batch, epoch):
                outputs = self.model(batch)
            loss = self.task.loss(outputs, batch["targets"], *self._loss_args, **self._loss_kwargs)
            for key, reg in zip(self.penalty_names, self.regularisers):
                penalty = reg.penalty(self.unwrapped, batch, outputs)
                self._penalty_sums[key] = self._penalty_sums.get(key, 0.0) + float(penalty.detach())
                loss = loss + penalty
        loss = poisoned_loss(loss)  # tests only (TUNEFORGE_FAULT=nan-loss:N); a no-op otherwise
        if not self._finite(loss):
            self._nonfinite(f"loss is {loss.item()}", idx)
            return False
        if last_micro:
            self.accelerator.backward(self.scaler.scale(loss / t.grad_accum))
        else:
            with self.accelerator.no_sync(self.model):
                self.accelerator.backward(self.scaler.scale(loss / t.grad_accum))
        self.state.loss_sum += self._loss_value
        self.state.loss_n += 1
        self.state.samples += len(idx) * world
        if "attention_mask" in batch:
            self.state.tokens += int(batch["attention_mask"].sum()) * world
        return True

    def _optimizer_step(self, idx) -> None:
        t = self.recipe.train
        self._apply_stage()
        params = [p for g in self.groups for p in g.params if p.grad is not None]
        if self.scaler.is_enabled():
            self._scaled_step(params)
            return
        if params:
            norm = self.accelerator.clip_grad_norm_(params, self.engine.grad_clip(t.grad_clip))
            if not torch.isfinite(torch.as_tensor(norm)):
                self.optimizer.zero_grad(set_to_none=True)
                self._nonfinite(f"gradient norm is {float(norm)}", idx)
                return
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.state.step += 1

    def _scaled_step(self, params) -> None:
        """fp16: unscale, clip, step unless a gradient overflowed (the scaler then skips the update and
        halves the scale: routine in the first steps, not a divergence), update the scale."""
        t = self.recipe.train
        self.scaler.unscale_(self.optimizer)
        if params and t.grad_clip:
            self.accelerator.clip_grad_norm_(params, t.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.state.step += 1

    def _finite(self, loss: torch.Tensor) -> bool:
        """Whether the loss is finite; with several processes, whether it is finite in all of them
        (so that all skip or stop together instead of waiting forever on each other). Also sets
        ``self._loss_value``: the loss of the whole global batch (the mean over processes)."""
        value = loss.detach().float().reshape(1)
        if self.accelerator.num_processes == 1:
            self._loss_value = value.item()
            return bool(torch.isfinite(value))
        bad = (~torch.isfinite(value)).float()
        total = self.accelerator.reduce(torch.cat([torch.nan_to_num(value, 0.0, 0.0, 0.0), bad]), "sum")
        self._loss_value = total[0].item() / self.accelerator.num_processes
        return total[1].item() == 0.0

    def _nonfinite(self, what: str, idx) -> None:
        rows = ", ".join(str(int(i)) for i in np.asarray(idx)[:8])
        if self.recipe.train.nonfinite == "skip":
            self.optimizer.zero_grad(set_to_none=True)
            self.state.skipped_batches += 1
            return
        lr = self.recipe.optimizer.lr
        raise TrainingError(
            f"training diverged at step {self.state.step + 1} (epoch {self.state.epoch + 1}): {what}. "
            f"Likely causes: a learning rate too high (optimizer.lr={lr:g}; try 10x lower), or bad values in "
            f"training rows {rows}. The last good checkpoint is kept; set train.nonfinite=skip to skip such batches.")

    def _evaluate(self) -> None:
        if self.evaluate_fn is None:
            return
        fault_point("evaluate")
        metrics = self.evaluate_fn()
        self.last_metrics = metrics
        self._set_modes()
        if self.tracker is not None:
            value, state = self.tracker.value(metrics), self.state
            reference = state.improved_value if state.improved_value is not None else state.best_value
            if self.tracker.improved(value, reference):   # patience starts again
                state.improved_value, state.evals_without_improvement = value, 0
            else:
                state.evals_without_improvement += 1
            if self.tracker.keeps(value, state.best_value):   # better, or a tie: the later model is kept
                state.best_value, state.best_step = value, state.step
                self.checkpoints.save_best(self.unwrapped.net)
        self.callbacks("on_evaluate", self, metrics)

    # -- checkpoints (see .run_checkpoints) ----------------------------------------------------------
    def checkpoint(self) -> None:
        self.checkpoints.save(self.unwrapped.net, self.optimizer, self.state, self.scaler, self.engine)

    def _resume(self) -> None:
        self.state = self.checkpoints.load(self.unwrapped.net, self.optimizer, self.scaler, self.engine)
        self.seconds_before = self.state.seconds
        self._stage = -1
        if self.state.step > 0:  # stage and learning rates of the last step taken, as the interrupted run had
            self._apply_stage(self.state.step - 1)
        self.checkpoints.trim_history(self.state.step)


def build_trainer(model, task, recipe, strategy, train_data, engine: Optional[PlainEngine] = None,
                  **kwargs) -> Trainer:
    """A :class:`Trainer` for ``recipe`` as written: resolved (:func:`.resolve.resolve`), then built.
    ``engine``: how steps are made (plain training when None); ``kwargs``: as for :class:`Trainer`."""
    engine = engine or PlainEngine()
    return Trainer(model, task, resolve(model, task, recipe, strategy, train_data, engine), train_data,
                   engine=engine, **kwargs)


def penalty_names(regularisers) -> list[str]:
    """One name per regulariser for the logs: its registered name, with its position in the recipe's list
    (``l2-sp-0``, ``l2-sp-1``) when it appears twice (MLflow metric names allow no brackets)."""
    names = [r.name for r in regularisers]
    return [f"{n}-{i}" if names.count(n) > 1 else n for i, n in enumerate(names)]

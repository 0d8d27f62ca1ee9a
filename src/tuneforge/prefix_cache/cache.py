"""Frozen-prefix caching: run the frozen bottom blocks once per example, train the rest from their outputs.

When the lowest K blocks of the layer map are frozen during a stage, kept in eval mode
(``strategy.bn: frozen``) and fed un-augmented inputs, their output for a training example
is the same in every epoch (with ``data.augment_views`` K, the same for each of its K fixed
augmented views: view ``epoch mod K`` has its own place in the store, recorded in the first K
epochs). The cache then

1. records, during the first epoch of the stage, the output of the *cache point* (the
   last frozen module to finish, or timm's ``global_pool`` right after it) for each example
   of each batch: the real tokens of each text (padding dropped, so a later batch of other
   widths can be re-padded), only the first token when the layers above read nothing else,
   or the fixed-shape output of an image model;
2. from the first batch whose examples are all recorded on, short-circuits the frozen
   modules: each returns a free placeholder of the right shape (a zero expanded, no memory),
   and the cache point returns the recorded outputs of the batch's examples.

Which of these fits a model is decided before training by a probe: four training examples
run through the model in eval mode normally and then from the cache; the cache is used
only if the outputs agree (this also rejects models that reuse a frozen output elsewhere,
or run a trainable or random module before the frozen blocks finish). Stages that reach
into the cached blocks drop the cache and rebuild it at the shorter prefix (or turn it off);
see :func:`choose_prefixes`. Checkpoints do not hold the cache: it is rebuilt after a resume.
The mechanism is in :mod:`.prefix_replay`, the probe in :mod:`.prefix_probe`, the storage
(memory, or a file above ``train.cache_memory_mb``) in :mod:`.cache_store`; docs/speed.md says
when the cache is on and exact.

The trainer's side::

    cache = PrefixCache(trainer)            # plans, probes; RecipeError if 'on' cannot hold
    cache.enter_stage(stage_index)          # at each stage change
    with cache.feeding(batch_indices, batch):
        outputs = model(batch)
"""
from __future__ import annotations

import contextlib
from typing import Optional

import numpy as np

from ..errors import RecipeError
from .probe import find_cache_point
from .replay import WHAT, CachePoint, Segment


def stage_prefixes(plan, head: int) -> list[int]:
    """For each stage, how many bottom blocks it leaves frozen (hence in eval mode): the first trainable index."""
    return [next((k for k in range(head) if k in set(s.trainable)), head) for s in plan.stages]


def choose_prefixes(plan, head: int, total_steps: int, steps_per_epoch: int, forced: bool = False) -> list[int]:
    """The prefix each stage caches (0: none).

    A cached prefix is kept into the next stage while that stage leaves it frozen; when a stage
    reaches into it, the stage picks anew: its own frozen prefix if that stays frozen for more
    than one epoch (so the recording is replayed at least once), else the prefix that stays
    frozen for the rest of the run, else none. ``forced`` (``cache_frozen: on``) drops the
    one-epoch condition.
    """
    own = stage_prefixes(plan, head)
    starts = [min(s.start_step, total_steps) for s in plan.stages]

    def pays(k: int, s: int) -> bool:
        end = next((starts[t] for t in range(s + 1, len(own)) if own[t] < k), total_steps)
        return k > 0 and (forced or end - starts[s] > steps_per_epoch)

    chosen, current = [], 0
    for s in range(len(own)):
        if not 0 < current <= own[s]:
            stable = min(own[s:])
            current = own[s] if pays(own[s], s) else stable if pays(stable, s) else 0
        chosen.append(current)
    return chosen


class PrefixCache:
    """The frozen-prefix cache of one Trainer; ``active`` tells whether any stage uses it."""

    def __init__(self, trainer):
        t = trainer.recipe.train
        self.setting = getattr(t, "cache_frozen", "auto")
        self.model, self.net = trainer.unwrapped, trainer.unwrapped.net
        self.blocks = self.model.layer_map.blocks
        self.data, self.device = trainer.train_data, trainer.accelerator.device
        self.views = getattr(self.data, "views", None) or 1  # data.augment_views: each view recorded once
        self.spill_bytes = int(getattr(t, "cache_memory_mb", 2048) * 2 ** 20)
        self.spill_dir = trainer.run_dir / "cache" if trainer.run_dir is not None else None
        self.stage_names = [s.name for s in trainer.plan.stages]
        self.prefixes = [0] * len(self.stage_names)
        self.points: dict[int, CachePoint] = {}
        self.segment: Optional[Segment] = None
        self.history: list[dict] = []
        self.reason = "train.cache_frozen is off" if self.setting == "off" else self._blocker(trainer)
        if self.reason is None:
            head = self.model.layer_map.head_index
            # with K views, recording takes K epochs: the prefix must stay frozen for more than that
            self.prefixes = choose_prefixes(trainer.plan, head, trainer.total_steps,
                                            trainer.steps_per_epoch * self.views, forced=self.setting == "on")
            if not any(self.prefixes):
                span = "one epoch" if self.views == 1 else f"{self.views} epochs (data.augment_views)"
                self.reason = ("no stage keeps the bottom block frozen" if self.setting == "on" or
                               not any(stage_prefixes(trainer.plan, head)) else
                               f"no frozen bottom blocks stay frozen for more than {span}")
        for k in sorted(set(self.prefixes) - {0}) if self.reason is None else []:
            point, why = find_cache_point(self.model, self.data, k, self.device)
            if point is None:
                self.reason = why
                break
            self.points[k] = point
        if self.reason is not None:
            if self.setting == "on":
                raise RecipeError(f"train.cache_frozen is 'on', but the frozen-prefix cache cannot be used: "
                                  f"{self.reason}; set train.cache_frozen to auto (or off)")
            self.prefixes, self.points = [0] * len(self.prefixes), {}

    @property
    def active(self) -> bool:
        return any(self.prefixes)

    # -- when it can hold ---------------------------------------------------------------------
    def _blocker(self, trainer) -> Optional[str]:
        if getattr(trainer.recipe.train, "compile", False):
            return "train.compile: the cache swaps module outputs per batch, which a compiled graph would re-trace"
        engine_says = trainer.engine.prefix_cache_blocker
        if engine_says is not None:  # under DP-SGD, Poisson-sampled batches
            return engine_says
        if not trainer.strategy.frozen_blocks_eval:
            return "strategy.bn is 'train': frozen blocks run in train mode (BatchNorm statistics, dropout)"
        if getattr(self.data, "token_ids", None) is None and getattr(self.data, "pixels", None) is None:
            return "the training data is not an encoded split (token ids or pixels)"
        if getattr(self.data, "pixels", None) is not None and getattr(self.data, "augment", None) and self.views == 1:
            names = getattr(self.data.augment, "names", self.data.augment)
            return (f"data.augment ({', '.join(map(str, names))}) changes the images in every epoch: outputs "
                    f"recorded once would replay one fixed view of each image instead")
        hooked = [n for n, m in self.net.named_modules() if m._forward_hooks or m._forward_pre_hooks]
        if hooked:
            return f"other code watches the model's modules through hooks ({hooked[0]}; e.g. distillation)"
        return None

    # -- the trainer's side -------------------------------------------------------------------
    def enter_stage(self, index: int) -> None:
        """Keep the cache if this stage caches the same prefix, else drop it and start the new one."""
        k = self.prefixes[index]
        if self.segment is not None and self.segment.p.k == k:
            if self.stage_names[index] not in self.history[-1]["stages"]:  # not a resume re-entering it
                self.history[-1]["stages"].append(self.stage_names[index])
            return
        self._drop()
        if k:
            counts = (np.asarray(self.data.lengths) if self.points[k].kind == "rows"
                      else np.ones(len(self.data) * self.views))
            self.segment = Segment(self.net, self.points[k], counts, self.device, self.spill_bytes, self.spill_dir)
            self.history.append({"stages": [self.stage_names[index]], **self._describe_point(self.points[k])})

    def feeding(self, idx, batch: dict, epoch: int = 0):
        """Context of the training forward of the batch holding examples ``idx`` (in ``epoch``: with
        ``data.augment_views`` K, view ``epoch mod K`` of each example has its own place in the store)."""
        if self.segment is None:
            return contextlib.nullcontext()
        width = batch["input_ids"].shape[1] if "input_ids" in batch else None
        positions = np.asarray(idx, dtype=np.int64) * self.views + epoch % self.views
        return self.segment.feeding(positions, width)

    def close(self) -> None:
        """Give the model its own forwards back and free the store (at the end of training)."""
        self._drop()

    def _drop(self) -> None:
        if self.segment is not None:
            self.history[-1].update(self.segment.info())
            self.segment.close()
            self.segment = None

    # -- what it did --------------------------------------------------------------------------
    def _describe_point(self, p: CachePoint) -> dict:
        return {"blocks": [b.name for b in self.blocks[:p.k]], "cache_point": p.point, "stores": WHAT[p.kind]}

    def summary(self) -> str:
        """One line for the console: what is cached, or why nothing is."""
        if not self.active:
            return f"frozen-prefix cache: off ({self.reason})"
        parts = []
        for k in dict.fromkeys(p for p in self.prefixes if p):
            stages = [n for n, p in zip(self.stage_names, self.prefixes) if p == k]
            d = self._describe_point(self.points[k])
            parts.append(f"{d['blocks'][0]}..{d['blocks'][-1]} during {', '.join(repr(s) for s in stages)} "
                         f"({d['stores']} of {d['cache_point']})")
        when = ("in the first epoch" if self.views == 1 else
                f"in the first {self.views} epochs (one per augmented view, data.augment_views)")
        return "frozen-prefix cache: on for " + "; ".join(parts) + f": recorded {when}, replayed after"

    def describe(self) -> dict:
        """For metrics.json: whether the cache was used, for which blocks, and its size."""
        segments = [dict(h) for h in self.history]
        if self.segment is not None and segments:
            segments[-1].update(self.segment.info())
        return {"setting": self.setting, "used": any(h.get("replayed_batches") for h in segments),
                "reason": self.reason, "segments": segments}

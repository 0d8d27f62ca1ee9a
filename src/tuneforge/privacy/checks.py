"""What a private run refuses, found before any run folder exists (docs/privacy.md).

DP-SGD's guarantee rests on each training example influencing one step only through its own
clipped gradient, and on every use of the training data going through the noisy optimizer.
Settings that break either are refused with one message naming what to use instead:

* recipe settings (:func:`privacy_problems`, also shown by ``tuneforge validate``): a solved head
  (L-BFGS on the private features), staged strategies (the set of trained parameters changes
  mid-run), the strategy race, losses averaged over tokens (token classification, causal LM),
  batch-mixing augmentation (mixup, cutmix), class weights and class-balanced sampling, gradient
  accumulation, the frozen-prefix cache forced on, BatchNorm statistics in train mode, the
  learning-rate finder and random-init training (non-private runs on the data), several processes;
* the built model (:func:`model_problems`): a layer that trains and holds buffers (BatchNorm: its
  statistics mix the examples of a batch), found by Opacus's own validation.
"""
from __future__ import annotations

from ..extras import extra_problem, require_extra
from ..models.layer_map import Block, LayerMap
from ..recipe.checks import RECIPE_CHECKS
from ..strategies.param_groups import build_param_groups
from ..training.distributed import world_size

INSTEAD = "use linear-probe, freeze, lora or another single-stage strategy"
PRIVACY_NEEDS = "privacy: DP-SGD (Opacus)"   # what names the privacy extra when Opacus is missing


def privacy_problems(recipe, task, strategy, block_names) -> list[str]:
    """Problems of ``recipe`` under ``privacy:`` (none when it has no privacy section)."""
    if recipe.privacy is None:
        return []
    out: list[str] = [p for p in [extra_problem("privacy", PRIVACY_NEEDS)] if p]
    o = recipe.strategy
    if o.name == "auto":
        out.append(f"privacy: strategy 'auto' races several strategies on the training data, each spending "
                   f"privacy budget outside the accounting; name one strategy ({INSTEAD})")
    solved = getattr(o, "warm_head", "auto") is True
    if solved:
        out.append("privacy: strategy.warm_head: true solves the head by L-BFGS on the training features, which "
                   "is not private; remove it (under privacy the head is trained by DP-SGD)")
    if strategy is not None and block_names:
        out += _plan_problems(strategy, block_names, solved_said=solved)
    if task is not None and not task.example_mean_loss:
        out.append(f"privacy: task {task.name!r} averages its loss over tokens of the whole batch, so one example's "
                   "gradient depends on the others and per-example clipping bounds nothing; DP-SGD is supported "
                   "for classification, multi-label and regression tasks")
    t = recipe.train
    if t.class_balance in ("weights", "sampling"):
        out.append(f"privacy: train.class_balance: {t.class_balance} (class weights normalise by the batch, "
                   "class-balanced sampling replaces Poisson sampling); set train.class_balance: none (auto means "
                   "none under privacy)")
    if t.grad_accum != 1:
        out.append("privacy: train.grad_accum > 1 is not supported with Poisson sampling; raise train.batch_size "
                   "instead (the expected batch size)")
    if t.precision == "fp16":
        out.append("privacy: train.precision: fp16 scales the loss for a gradient scaler that Opacus's per-example "
                   "clipping does not account for; use fp32 or bf16")
    if getattr(t, "compile", False):
        out.append("privacy: train.compile: Opacus's per-example gradient hooks do not run through a compiled "
                   "graph; set train.compile: false")
    if getattr(t, "gradient_checkpointing", False):
        out.append("privacy: train.gradient_checkpointing re-runs forward passes that Opacus's hooks would record "
                   "twice; set it to false")
    if t.cache_frozen == "on":
        out.append("privacy: train.cache_frozen: on records every example once per epoch, which Poisson-sampled "
                   "batches do not do; set train.cache_frozen: auto (off under privacy)")
    if getattr(o, "bn", "frozen") == "train":
        out.append("privacy: strategy.bn: train updates BatchNorm statistics from each batch, mixing examples; "
                   "remove it (frozen BatchNorm stays in eval mode)")
    mixing = [a.get("name") for a in recipe.data.augment if a.get("name") in ("mixup", "cutmix")]
    if mixing:
        out.append(f"privacy: data.augment {', '.join(mixing)} blends examples of a batch, so one example's gradient "
                   "carries another's; remove it")
    if recipe.optimizer.lr == "find":
        out.append("privacy: optimizer.lr: find runs a non-private range test on the training data; give a number")
    if recipe.evaluate.random_init:
        out.append("privacy: evaluate.random_init trains a second model on the training data without privacy; "
                   "set it to false")
    if world_size() > 1:
        out.append(f"privacy: {world_size()} processes (WORLD_SIZE) are not supported: Poisson sampling and the "
                   "noise are drawn in one process; run without a distributed launcher")
    return out


def _plan_problems(strategy, block_names: list[str], solved_said: bool) -> list[str]:
    """A plan with several stages (parameters change mid-run) or a solved head, on the model's blocks."""
    layer_map = LayerMap("generic", [Block(n) for n in block_names[:-1]] + [Block(block_names[-1], role="head")])
    try:
        plan = strategy.plan(layer_map, 100, 1000)
    except Exception:  # noqa: BLE001 (the strategy's own check reports its problem)
        return []
    if len(plan.stages) > 1:
        return [f"privacy: strategy {strategy.name!r} changes which parameters train during the run "
                f"({len(plan.stages)} stages), which Opacus's per-example gradients cannot follow; {INSTEAD}"]
    if plan.solves_head and not solved_said:
        return [f"privacy: strategy {strategy.name!r} solves the head on the training features first, which is "
                f"not private; {INSTEAD}"]
    return []


def model_problems(model, strategy) -> list[str]:
    """Layers of the built model that train under the strategy's (single-stage) plan and that Opacus cannot give per-example
    gradients for (its ``GradSampleModule.validate``: a trainable layer with buffers, i.e. BatchNorm)."""
    require_extra("privacy", PRIVACY_NEEDS)
    from opacus import GradSampleModule

    plan = strategy.plan(model.layer_map, 100, 1000)
    groups = build_param_groups(model.net, model.layer_map)
    trains = {id(p) for g in groups if plan.stages[0].settings(g)[0] for p in g.params}
    flags = [(p, p.requires_grad) for p in model.net.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(id(p) in trains)
        errors = GradSampleModule.validate(model.net, strict=False)
        bad = [name for name, m in model.net.named_modules()
               if any(p.requires_grad for p in m.parameters(recurse=False)) and len(list(m.buffers())) > 0]
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
    if not errors:
        return []
    kinds = sorted({type(model.net.get_submodule(n)).__name__ for n in bad})
    shown = ", ".join(bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
    return [f"privacy: strategy {strategy.name!r} trains layers with running statistics ({', '.join(kinds)}: "
            f"{shown}), which mix the examples of a batch, so per-example gradients do not exist; use lora, "
            "linear-probe or freeze with only blocks free of BatchNorm (frozen BatchNorm stays in eval mode), "
            "or a model with LayerNorm/GroupNorm"]


@RECIPE_CHECKS.register("privacy", order=160)
def _privacy(recipe, ctx) -> list[str]:
    """Registered into :mod:`tuneforge.recipe.checks`: the refusals above, after the strategy and model checks."""
    return privacy_problems(recipe, ctx.task, ctx.strategy, ctx.model.block_names if ctx.model is not None else None)

"""What an unset setting means: each strategy's defaults, sized to the model family and the budget.

A recipe may leave ``optimizer.lr``, ``optimizer.head_lr``, ``strategy.warm_head`` and the
stage lengths of staged strategies unset (``None`` / ``auto``). :func:`resolve_defaults` fills
them in once, before the trainer is built (called by :func:`tuneforge.training.resolve.resolve`,
which first finds out whether the head can be solved), from :meth:`Strategy.defaults`, and returns where each value
came from; the run saves the resolved recipe (so a resumed or repeated run uses the same
values) and prints the provenance with the plan. A value the user set is never changed.

The learning rates are AdamW peaks for full fine-tuning per family group (BERT-like and ViT
encoders 5e-5, the top of the BERT paper's 2e-5..5e-5 grid since budgets here are short;
decoders 2e-5; CNNs 5e-4), times the strategy's ``lr_factor`` (BitFit 10x, IA3 20x, LoRA 30x:
the LoRA, BitFit and IA3 papers' own settings are 5e-4, 1e-3 and 3e-3 on BERT/T5-sized models,
and LoRA's short budgets here want the upper end: 10x lost 4 points of macro-F1 to full
fine-tuning on the demo tweets at 2 epochs, 30x matched it). A new head that starts random trains at 10x the body's full fine-tuning rate (at least
``optimizer.lr``); a solved head keeps ``optimizer.lr``, and so does every head when the user
sets ``optimizer.lr`` (a set rate is the rate they asked for).

Example::

    ctx = DefaultsContext.for_model(model, steps_per_epoch=25, total_steps=50)
    recipe, strategy, provenance = resolve_defaults(recipe, strategy, ctx)
    provenance["optimizer.lr"]   # (5e-05, "default of full for transformer encoders")
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from ..models.layer_map import FEATURE_ENCODER  # noqa: F401  (also read by recipe/validate.py)

FULL_LR = {"transformer": 5e-5, "decoder": 2e-5, "cnn": 5e-4}
GROUP_WORDS = {"transformer": "transformer encoders", "decoder": "decoder language models", "cnn": "CNNs"}
HEAD_LR_FACTOR = 10.0
PROBE_SGD_LR = 1e-3      # a linear probe trained by SGD (when its head cannot be solved)
SET = "set in the recipe"


@dataclass
class DefaultsContext:
    """What defaults may depend on; ``None`` where not known yet (``tuneforge validate``)."""

    group: str                               # "transformer", "decoder" or "cnn" (see family_group)
    n_blocks: Optional[int] = None           # blocks of the layer map, head included
    steps_per_epoch: Optional[int] = None
    total_steps: Optional[int] = None
    head_solvable: Optional[bool] = None     # the head can be solved exactly on this model
    feature_encoder: Optional[bool] = None   # the model has a conv feature encoder block (wav2vec2, HuBERT)
    new_head: bool = True                    # False: the model keeps its pre-trained head (a causal LM's LM head)

    @classmethod
    def for_model(cls, model, steps_per_epoch=None, total_steps=None, head_solvable=None) -> "DefaultsContext":
        names = model.layer_map.names()
        return cls(family_group(model.layer_map.family, names), len(model.layer_map.blocks),
                   steps_per_epoch, total_steps, head_solvable, FEATURE_ENCODER in names,
                   model.new_head)


def family_group(family: str, block_names: list[str]) -> str:
    """"cnn" for timm networks with a convolutional stem, "transformer" for BERT/ViT-like encoders
    (speech encoders such as wav2vec2 too, and unknown families), "decoder" for causal language models (Llama, GPT-2, Qwen...)."""
    if family == "timm":
        return "cnn" if any(n in ("stem", "conv_stem") for n in block_names) else "transformer"
    if family in ("bert", "vit", "wav2vec2", "generic"):
        return "transformer"
    return "decoder"  # the decoder adapter names its map after config.model_type (llama, gpt2, qwen2...)


def common_defaults(strategy, ctx: DefaultsContext) -> dict[str, tuple[Any, str]]:
    """The defaults every strategy shares: lr, head_lr, warm_head (strategies may add or replace)."""
    words = GROUP_WORDS.get(ctx.group, ctx.group)
    full = FULL_LR.get(ctx.group, FULL_LR["transformer"])
    lr = full * strategy.lr_factor
    out: dict[str, tuple[Any, str]] = {}
    factor = f"{strategy.lr_factor:g}x full fine-tuning, " if strategy.lr_factor != 1 else ""
    out["optimizer.lr"] = (lr, f"default of {strategy.name} for {words} ({factor}AdamW)")
    warm = strategy.warm_head_default
    if ctx.head_solvable is False:
        warm, why = False, "the head cannot be solved exactly on this model"
    else:
        why = f"default of {strategy.name}"
    out["strategy.warm_head"] = (warm, why)
    if ctx.feature_encoder:
        out["strategy.freeze_feature_encoder"] = (
            True, "default for speech encoders (wav2vec2, HuBERT): their conv feature encoder stays frozen, as in "
                  "the wav2vec2 paper's fine-tuning and transformers' freeze_feature_encoder()")
    if not ctx.new_head:
        out["strategy.warm_head"] = (False, "the model keeps its pre-trained head: nothing to solve")
        out["optimizer.head_lr"] = (None, "the pre-trained head trains at optimizer.lr like the body")
    elif warm:
        out["optimizer.head_lr"] = (None, "head solved before training: it trains at optimizer.lr")
    else:
        out["optimizer.head_lr"] = (max(lr, HEAD_LR_FACTOR * full),
                                    f"a new random head trains at {HEAD_LR_FACTOR:g}x the body's full "
                                    f"fine-tuning rate")
    return out


def resolve_defaults(recipe, strategy, ctx: DefaultsContext) -> tuple[Any, Any, dict[str, tuple[Any, str]]]:
    """Fill every unset setting with the strategy's default for ``ctx``.

    Returns ``(recipe, strategy, provenance)``: copies with the values filled in, and
    ``{dotted key: (value, where it came from)}``. A value already set (in the recipe, or
    ``warm_head`` not ``auto``) is kept and reported as set. This is the one place where
    unset means "default": other resolvers (an lr finder) plug in here.
    """
    provenance: dict[str, tuple[Any, str]] = {}
    opt_updates, strat_updates = {}, {}
    lr_set = recipe.optimizer.lr is not None
    factor = recipe.optimizer.lr_factor
    for key, (value, why) in strategy.defaults(ctx).items():
        section, field = key.split(".", 1)
        if key == "optimizer.head_lr" and lr_set and value is not None:
            value, why = None, "optimizer.lr is set: the head trains at it too"
        if key in ("optimizer.lr", "optimizer.head_lr") and value is not None and factor != 1.0:
            value, why = value * factor, f"{factor:g}x the " + why
        if section == "optimizer":
            current = getattr(recipe.optimizer, field)
            if current is not None:
                provenance[key] = (current, SET)
            elif value is not None:
                opt_updates[field] = value
                provenance[key] = (value, why)
            else:
                provenance[key] = (None, why)
        else:
            current = getattr(strategy.options, field)
            if current is not None and current != "auto":
                provenance[key] = (current, SET)
            else:
                strat_updates[field] = value
                provenance[key] = (value, why)
    if opt_updates:
        recipe = recipe.model_copy(update={"optimizer": recipe.optimizer.model_copy(update=opt_updates)})
    if strat_updates:
        options = strategy.options.model_copy(update=strat_updates)
        strategy.options = options
        section = recipe.strategy.model_copy(update={k: v for k, v in strat_updates.items() if v is not None})
        recipe = recipe.model_copy(update={"strategy": section})
    return recipe, strategy, provenance


def describe(provenance: dict[str, tuple[Any, str]]) -> list[str]:
    """One line per resolved setting: ``optimizer.lr 5e-05 (default of full for transformer encoders)``."""
    lines = []
    for key, (value, why) in provenance.items():
        shown = "-" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
        lines.append(f"{key} {shown} ({why})")
    return lines

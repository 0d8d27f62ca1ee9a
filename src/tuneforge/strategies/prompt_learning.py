"""What prompt tuning and prefix tuning share: peft prompt learning on a causal LM, never merged.

Unlike the adapters of :mod:`.adapters`, peft's prompt-learning methods inject no module:
``peft.get_peft_model`` returns a ``PeftModelForCausalLM`` whose forward adds learnt
virtual tokens (prompt tuning: ``num_virtual_tokens`` embeddings put before the input, so
the logits get as many extra leading positions; prefix tuning: learnt keys and values of
``num_virtual_tokens`` positions in every attention layer, passed as ``past_key_values``).
``prepare`` therefore makes that wrapper the model's network (``model.net``): parameter names
gain the ``base_model.`` prefix and the layer map is rebuilt with them; the prompt encoder's
parameters (kind "adapter", see ``param_groups.param_kind``) join the embeddings block, the
only ones that train. The causal LM drops the virtual positions from the logits
(``CausalLMModel.virtual_tokens``), so tuneforge's own next-token loss lines up with the labels,
and generation goes through peft's ``generate``, which puts the prompt first.

Nothing can be merged into the weights: ``finalize`` keeps the wrapper, so the test split,
the generated samples and ``model/`` all use the prompt. ``model/`` holds the unchanged
pre-trained weights plus the prompt in ``model/prompt`` (see ``CausalLMModel.save_parts``);
``run_dir/adapter`` holds the prompt alone, loadable with
``peft.PeftModel.from_pretrained(base, adapter)`` or ``AutoPeftModelForCausalLM``.

What these methods cannot do is refused by :meth:`PromptLearningStrategy.recipe_problems` at
``tuneforge validate`` time: another task than causal-lm, sequence packing (peft prepends
a 2-D mask of ones, so a packed row's 4-D block-diagonal mask cannot pass, and prompt tuning drops position ids),
``train.compile``, DP-SGD and continual sequences (not supported with peft's prompt-learning
forward in tuneforge), the regularisers (l2-sp and ewc anchor only pre-trained weights, which never
train here, so their penalty is 0; distillation's teacher would be the model with the untrained
prompt, not the pre-trained model), and, for prefix tuning, gradient checkpointing (transformers turns the
key-value cache off under checkpointing, which drops the prefix).
"""
from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ..errors import RecipeError
from ..models.layer_map import Block, LayerMap
from ..tasks import TASKS
from .base import Plan, Stage, Strategy, StrategyOptions
from .defaults import common_defaults

BASE_PREFIX = "base_model."
ANCHORED = ("l2-sp", "ewc")   # regularisers whose penalty counts only the pre-trained weights that train   # what peft's prompt-learning wrapper puts before the base network's names


class PromptLearningOptions(StrategyOptions):
    num_virtual_tokens: int = Field(20, ge=1, description="how many virtual tokens the learnt prompt or prefix has")


class PromptLearningStrategy(Strategy):
    """Base of prompt tuning and prefix tuning: subclasses build the peft config in :meth:`peft_config`."""

    method: ClassVar[str] = ""
    prepends_tokens: ClassVar[bool] = False        # True: the logits start with num_virtual_tokens extra positions
    checkpointing_ok: ClassVar[bool] = True        # False: train.gradient_checkpointing drops what the method adds
    warm_head_default = False

    def __init__(self, options=None):
        super().__init__(options)
        self.peft_model = None

    def peft_config(self, model):
        raise NotImplementedError

    def defaults(self, ctx):
        """The common defaults, with the causal LM's kept head known even before the model is loaded
        (``tuneforge validate``): no head to solve, no head learning rate."""
        from dataclasses import replace

        return common_defaults(self, replace(ctx, new_head=False))

    def recipe_problems(self, recipe) -> list[str]:
        """What this strategy cannot do with ``recipe``, one message per setting (found by ``tuneforge validate``)."""
        name, problems = self.name, []
        tasks = [t.task for t in recipe.tasks] if recipe.tasks else [recipe.task]
        if not all(t in TASKS and TASKS.get(t).learns_prompts for t in tasks):
            problems.append(f"strategy.name: {name!r} learns a prompt for a causal language model and needs "
                            f"task: causal-lm (not {recipe.task!r}); use lora or another adapter for this task")
        if recipe.tasks:
            problems.append(f"tasks: {name!r} does not support continual sequences (each step would need the previous "
                            "step's prompt); use lora")
        if recipe.data.packing:
            problems.append(f"data.packing: {name!r} adds virtual tokens to every row through peft, which extends only "
                            "a 2-D attention mask, so a packed row's block-diagonal mask cannot pass; set "
                            "data.packing: false")
        if recipe.train.compile:
            problems.append(f"train.compile: not supported with {name!r} (peft's prompt-learning forward is not "
                            "compiled by tuneforge); remove it")
        if recipe.train.gradient_checkpointing and not self.checkpointing_ok:
            problems.append(f"train.gradient_checkpointing: {name!r} passes its prefix as a key-value cache, which "
                            "transformers turns off under gradient checkpointing; remove it")
        for i, reg in enumerate(recipe.regularisers):
            if reg.name in ANCHORED:
                problems.append(f"regularisers[{i}]: {reg.name!r} anchors the pre-trained weights, which {name!r} never "
                                "changes (its penalty would stay 0); remove it")
            elif reg.name == "distillation":
                problems.append(f"regularisers[{i}]: 'distillation' copies the model as training starts, which under "
                                f"{name!r} already holds the untrained virtual tokens, so it would not keep the "
                                "pre-trained model's outputs; remove it")
        if recipe.privacy is not None:
            problems.append(f"privacy: DP-SGD is not supported with {name!r}; remove the privacy section or use lora")
        return problems

    # -- wrapping ------------------------------------------------------------------------------
    def prepare(self, model):
        from peft import get_peft_model

        if model.new_head:   # only a causal LM keeps its pre-trained (LM) head
            raise RecipeError(f"strategy.name: {self.name!r} needs task: causal-lm (a causal language model)")
        old_map = model.layer_map
        self.peft_model = get_peft_model(model.net, self.peft_config(model))
        model.net = self.peft_model
        model.virtual_tokens = self.options.num_virtual_tokens if self.prepends_tokens else 0
        model.layer_map = prompt_layer_map(old_map, model.net)
        return model

    def plan(self, layer_map, steps_per_epoch, total_steps):
        # every block "trains" but only the prompt encoder's groups (kind adapter) do: the frozen network
        # keeps its training-mode behaviour (dropout) as under peft's own training, and no prefix is cached
        return Plan([Stage(f"{self.method} virtual tokens", 0, trainable=list(range(len(layer_map.blocks))),
                           kinds=["adapter"])])

    # -- after training ------------------------------------------------------------------------
    def save_extra(self, model, run_dir) -> list[str]:
        if self.peft_model is None:
            return []
        self.peft_model.save_pretrained(str(run_dir / "adapter"))
        return ["adapter"]


def prompt_layer_map(old: LayerMap, net) -> LayerMap:
    """The layer map of peft's prompt-learning wrapper: the base network's names under ``base_model.``, the
    prompt encoder's parameters in the embeddings block (the first)."""
    blocks = [Block(b.name, [BASE_PREFIX + p for p in b.params], [BASE_PREFIX + m for m in b.modules], b.role)
              for b in old.blocks]
    known = {p for b in blocks for p in b.params}
    for name, _ in net.named_parameters():
        if name in known:
            continue
        if not name.startswith("prompt_encoder."):
            raise RuntimeError(f"prompt learning: parameter {name} is neither the base network's nor the prompt's")
        blocks[0].params.append(name)
    return LayerMap(old.family, blocks)

"""Each strategy owns its defaults: an unset lr becomes the strategy's default for the model family
(used by the optimizer, reported with where it came from), a set lr is kept; stage lengths left
unset are fitted to the step budget so that every stage runs, and a plan whose stages cannot all
run says so before training."""
import pytest

import kit
from tuneforge.strategies.defaults import FULL_LR, HEAD_LR_FACTOR, SET, family_group


def first_lrs(tr):
    seen = []

    class Spy(kit.Callback):
        def on_step_end(self, trainer):
            seen.append(dict(trainer.current_lrs()))

    tr.callbacks.callbacks.append(Spy())
    tr.fit()
    return seen


CONSTANT = {"optimizer.lr": None, "train.max_steps": 2}


@pytest.mark.parametrize("strategy,factor", [("full", 1.0), ("lora", 30.0), ("bitfit", 10.0)])
def test_unset_lr_is_the_strategy_default_for_the_family(tiny_models, strategy, factor):
    model = kit.load(tiny_models, "vit")
    if strategy == "lora":
        from tuneforge.recipe.schema import StrategySection
        from tuneforge.strategies import Strategy
        model = Strategy.from_section(StrategySection(name="lora")).prepare(model)
    tr, _ = kit.trainer(model, {"name": strategy}, **CONSTANT)
    expected = FULL_LR["transformer"] * factor
    assert tr.recipe.optimizer.lr == pytest.approx(expected)
    value, why = tr.defaults["optimizer.lr"]
    assert value == pytest.approx(expected) and strategy in why and "transformer" in why
    lrs = first_lrs(tr)[0]
    body = [g.name for g in tr.groups if g.block == 1 and g.kind == ("adapter" if strategy == "lora" else "base")
            and (strategy != "bitfit" or not g.decay)]   # BitFit trains the biases and norms
    assert body and lrs[body[0]] == pytest.approx(expected)


def test_a_set_lr_is_kept_and_reported_as_set(tiny_models):
    model = kit.load(tiny_models, "vit")
    tr, _ = kit.trainer(model, {"name": "lora"}, **{**CONSTANT, "optimizer.lr": 3e-3})
    assert tr.recipe.optimizer.lr == 3e-3 and tr.defaults["optimizer.lr"] == (3e-3, SET)


def test_a_random_head_gets_a_higher_default_lr_than_the_body(tiny_models):
    model = kit.load(tiny_models, "cnn")
    tr, _ = kit.trainer(model, {"name": "full", "warm_head": False}, **CONSTANT)
    lrs = first_lrs(tr)[0]
    body = FULL_LR["cnn"]
    assert lrs["blocks.0"] == pytest.approx(body)
    assert lrs["head"] == pytest.approx(HEAD_LR_FACTOR * body)
    assert tr.defaults["strategy.warm_head"] == (False, SET)


def test_family_groups():
    assert family_group("bert", []) == "transformer" and family_group("llama", []) == "decoder"
    assert family_group("timm", ["stem", "blocks.0", "head"]) == "cnn"
    assert family_group("timm", ["patch_embed", "blocks.0", "norm", "head"]) == "transformer"


@pytest.mark.parametrize("strategy", ["gradual-unfreezing", "layer-wise"])
def test_stages_fitted_to_a_tiny_budget_all_run(tiny_models, strategy):
    model = kit.load(tiny_models, "bert")               # 4 blocks: 4 (gradual) or 5 (layer-wise) stages
    tr, _ = kit.trainer(model, {"name": strategy}, data=kit.split(model, n=48), **{"train.max_steps": 5})
    n = len(tr.plan.stages)
    assert n >= 4 and not tr.plan.notes
    visited = []

    class Stages(kit.Callback):
        def on_step_end(self, trainer):
            visited.append(trainer._stage)

    tr.callbacks.callbacks.append(Stages())
    tr.fit()
    assert tr.state.step == 5 and set(visited) == set(range(n))
    length, why = tr.defaults["strategy.steps_per_stage"]
    assert length == 5 // n and "5 steps shared by" in why


def test_stages_the_budget_cannot_reach_are_named_before_training(tiny_models):
    model = kit.load(tiny_models, "bert")
    tr, _ = kit.trainer(model, {"name": "gradual-unfreezing", "steps_per_stage": 4}, **{"train.max_steps": 6})
    (note,) = tr.plan.notes
    assert "2 of 4 stages" in note and "top 2 blocks + head, top 3 blocks + head" in note


def test_validate_lists_the_resolved_defaults_without_loading_weights(bert_dir):
    from tuneforge.training.resolve import resolved_defaults

    recipe = {"task": "text-classification", "model": {"name": str(bert_dir)}, "data": {"train": "x.csv"},
              "strategy": {"name": "lora"}}
    lines = resolved_defaults(recipe)
    assert "optimizer.lr 0.0015 (default of lora for transformer encoders (30x full fine-tuning, AdamW))" in lines
    assert any(line.startswith("strategy.warm_head True") for line in lines)
    lines = resolved_defaults(recipe, ["optimizer.lr=0.002", "strategy.name=gradual-unfreezing"])
    assert "optimizer.lr 0.002 (set in the recipe)" in lines
    assert "strategy.steps_per_stage - (fitted to the step budget when training starts)" in lines

"""Recipes: overrides, every problem reported at once, did-you-mean, shipped recipes valid."""

import pytest

from tuneforge.errors import RecipeError
from tuneforge.recipe import load_recipe, parse_override, recipe_to_yaml

BASE = {"task": "text-classification", "model": {"name": "minilm-l6"}, "data": {"train": "tweets"}}


def test_overrides_use_dotted_keys_and_yaml_values():
    r = load_recipe(BASE, ["optimizer.lr=3e-5", "train.epochs=2", "strategy.top_blocks=2", "data.labels=[a, b]"])
    assert r.optimizer.lr == pytest.approx(3e-5)
    assert r.train.epochs == 2
    assert r.strategy.model_dump()["top_blocks"] == 2
    assert r.data.labels == ["a", "b"]


def test_parse_override_rejects_missing_equals():
    with pytest.raises(RecipeError, match="dotted.key=value"):
        parse_override("optimizer.lr")


def test_all_problems_reported_at_once_with_did_you_mean():
    bad = {"task": "text-classification", "model": {"name": "x", "wieghts": "w"},
           "data": {"train": "a.csv", "validation": 2.0}, "optimizer": {"lr": -1}, "train": {"epochs": "abc"}}
    with pytest.raises(RecipeError) as e:
        load_recipe(bad, ["train.batch_sise=3"])
    msg = str(e.value)
    assert len(e.value.problems) == 5
    assert 'model.wieghts: unknown key (did you mean "weights"?)' in msg
    assert 'train.batch_sise: unknown key (did you mean "batch_size"?)' in msg
    assert "optimizer.lr" in msg and "greater than 0" in msg
    assert "train.epochs" in msg and "data.validation" in msg


def test_missing_required_sections():
    with pytest.raises(RecipeError) as e:
        load_recipe({"task": "text-classification"})
    assert {"model: required but missing", "data: required but missing"} <= set(e.value.problems)


def test_bad_yaml_names_line(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("task: text-classification\nmodel: [unclosed\n")
    with pytest.raises(RecipeError, match=r"not valid YAML at line \d+"):
        load_recipe(p)


def test_empty_and_missing_recipe_files(tmp_path):
    p = tmp_path / "empty.yaml"
    p.write_text("")
    with pytest.raises(RecipeError, match="is empty"):
        load_recipe(p)
    with pytest.raises(RecipeError, match="does not exist"):
        load_recipe(tmp_path / "nope.yaml")


def test_resolved_recipe_round_trips():
    r = load_recipe(BASE, ["optimizer.lr=1e-4"])
    again = load_recipe(__import__("yaml").safe_load(recipe_to_yaml(r)))
    assert again == r


@pytest.mark.parametrize("key, ours", [("train.warmup_steps", "scheduler.warmup"),
                                       ("train.gradient_accumulation_steps", "train.grad_accum"),
                                       ("train.fp16", "train.precision"), ("train.learning_rate", "optimizer.lr"),
                                       ("optimizer.learning_rate", "optimizer.lr")])
def test_hf_trainer_names_point_to_tuneforges(key, ours):
    from tuneforge.errors import RecipeError
    from tuneforge.recipe import load_recipe

    tree = {"task": "text-classification", "model": {"name": "minilm-l6"}, "data": {"train": "x.csv"}}
    with pytest.raises(RecipeError) as e:
        load_recipe(tree, [f"{key}=1"])
    assert f"{key}: unknown key; tuneforge calls this {ours}" in str(e.value)

"""Search spaces: parsing, conditions, validation (no training)."""
import optuna
import pytest

from tuneforge.errors import RecipeError
from tuneforge.recipe.schema import SearchSection
from tuneforge.search.space import build_space, parse_dimension, sample, space_problems
from tuneforge.search.spaces import shipped_space


def test_distributions_parse_and_describe():
    d = parse_dimension("optimizer.lr", {"log_uniform": [1e-5, 1e-3]})
    assert (d.kind, d.low, d.high) == ("log_uniform", 1e-5, 1e-3)
    d = parse_dimension("strategy.top_blocks", {"int": [1, "blocks"], "when": {"strategy.name": "freeze"}})
    assert d.bounds(6) == (1, 6) and d.when == {"strategy.name": ["freeze"]}
    assert parse_dimension("train.epochs", 2).kind == "fixed"


@pytest.mark.parametrize("spec, words", [
    ({"log_unifrom": [1, 2]}, "did you mean \"log_uniform\""),
    ({"log_uniform": [0, 1]}, "must be > 0"),
    ({"uniform": [2, 1]}, "above high"),
    ({"int": [1.5, 3]}, "whole numbers"),
    ({"choice": []}, "non-empty"),
    ({"uniform": [0, 1], "when": "lora"}, "when must map"),
    ({"uniform": [0, "blocks"]}, "int bound"),
])
def test_bad_dimensions_name_the_key(spec, words):
    with pytest.raises(RecipeError) as e:
        parse_dimension("optimizer.x", spec)
    assert "search.optimizer.x" in str(e.value) and words in str(e.value)


def test_default_space_when_none_given_and_user_entries_replace():
    dims = build_space(SearchSection(), "text-classification")
    assert {d.key for d in dims} == set(shipped_space("default", "text-classification"))
    section = SearchSection(space="default", **{"strategy.r": {"choice": [2]}})
    r = next(d for d in build_space(section, "text-classification") if d.key == "strategy.r")
    assert r.choices == [2]
    only = build_space(SearchSection(**{"optimizer.lr": {"uniform": [0.1, 0.2]}}), "text-classification")
    assert [d.key for d in only] == ["optimizer.lr"]   # dimensions given: no shipped space unless named


def test_conditional_dimensions_are_sampled_only_when_their_condition_holds():
    dims = build_space(SearchSection(), "text-classification")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = {}
    for _ in range(40):
        trial = study.ask()
        values = sample(trial, dims, {"task": "text-classification"}, blocks=6)
        study.tell(trial, 0.0)
        name = values["strategy.name"]
        seen.setdefault(name, set()).update(values)
        assert ("optimizer.lr_factor" in values) == (name != "linear-probe")
        assert ("strategy.r" in values) == (name == "lora")
        assert ("strategy.top_blocks" in values) == (name == "freeze")
        if name == "freeze":
            assert 1 <= values["strategy.top_blocks"] <= 6
    assert len(seen) >= 5


def test_condition_on_the_recipes_own_value():
    dims = build_space(SearchSection(**{"strategy.r": {"choice": [4, 8], "when": {"strategy.name": "lora"}}}),
                       "text-classification")
    trial = optuna.create_study().ask()
    assert sample(trial, dims, {"strategy": {"name": "lora"}}, None) in ({"strategy.r": 4}, {"strategy.r": 8})
    assert sample(optuna.create_study().ask(), dims, {"strategy": {"name": "full"}}, None) == {}


def test_space_problems_check_values_against_the_recipe(bert_dir, tmp_path):
    tree = {"task": "text-classification", "model": {"name": str(bert_dir)}, "data": {"train": "x.csv"}}
    section = SearchSection(**{"optimizer.lr": {"log_uniform": [1e-5, 1e-3]},
                               "optimizer.lr_factor": {"uniform": [0.5, 2]},
                               "strategy.name": {"choice": ["full", "lroa"]},
                               "train.epochz": {"choice": [1, 2]},
                               "strategy.r": {"choice": [0, 8], "when": {"strategy.name": "lora"}}})
    problems = space_problems(tree, section, "text-classification", blocks=2)
    text = "\n".join(problems)
    assert "optimizer.lr and optimizer.lr_factor are both searched" in text
    assert "search.strategy.name = 'lroa'" in text and "lora" in text        # did you mean
    assert "search.train.epochz" in text and "epochs" in text
    assert "search.strategy.r = 0" in text


def test_unknown_shipped_space_and_non_dotted_key():
    with pytest.raises(RecipeError, match="did you mean \"default\""):
        build_space(SearchSection(space="defualt"), "text-classification")
    with pytest.raises(RecipeError, match="search.trails: unknown key.*trials"):
        build_space(SearchSection(trails=3), "text-classification")

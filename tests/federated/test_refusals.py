"""Federated runs refuse incompatible recipes and options with one message, before any run folder."""
import pytest

from runs.conftest import text_recipe
from tuneforge.errors import RecipeError
from tuneforge.federated.options import FederatedOptions
from tuneforge.federated.run import federate
from tuneforge.recipe import load_recipe


def test_every_centralised_feature_is_refused_at_once_and_nothing_is_written(bert_dir, text_csv, tmp_path):
    recipe = load_recipe(text_recipe(bert_dir, text_csv, tmp_path / "runs", **{
        "evaluate.folds": 3, "optimizer.lr": "find", "strategy.warm_head": True,
        "train.early_stopping": {"patience": 2}, "evaluate.random_init": True}))
    with pytest.raises(RecipeError) as e:
        federate(recipe, FederatedOptions(clients=2), quiet=True)
    text = str(e.value)
    for expected in ("evaluate.folds", "optimizer.lr: find", "strategy.warm_head: true", "train.early_stopping",
                     "evaluate.random_init"):
        assert expected in text
    assert len(e.value.problems) == 5
    assert not (tmp_path / "runs").exists()


def test_the_strategy_race_and_a_missing_validation_split_are_refused(bert_dir, text_csv, tmp_path):
    recipe = load_recipe(text_recipe(bert_dir, text_csv, tmp_path / "runs", **{
        "strategy.name": "auto", "data.validation": None}))
    with pytest.raises(RecipeError, match="strategy: auto") as e:
        federate(recipe, FederatedOptions(clients=2), quiet=True)
    assert "data.validation" in str(e.value)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("options, message", [
    (dict(clients=0), "--clients 0"), (dict(rounds=0), "--rounds 0"), (dict(strategy="scaffold"), "fedavg, fedprox"),
    (dict(fraction=0.0), "--fraction 0.0"), (dict(mu=0.5), "applies to --strategy fedprox only"),
    (dict(split="dirichlet:0"), "ALPHA > 0"), (dict(local_steps=0), "--local-steps 0")])
def test_bad_options_are_refused_with_the_option_named(options, message):
    with pytest.raises(RecipeError, match=message):
        FederatedOptions(**options).check()


def test_clients_sampled_per_round_never_fall_below_one():
    assert FederatedOptions(clients=5, fraction=0.1).clients_per_round == 1
    assert FederatedOptions(clients=8, fraction=0.5).clients_per_round == 4

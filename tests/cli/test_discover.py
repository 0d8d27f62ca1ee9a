"""Discovery: every registry a recipe can name is listable, with options, types and defaults."""
import pytest

from tuneforge.cli import main
from tuneforge.discover import LISTABLES
from tuneforge.regularisers import REGULARISERS
from tuneforge.strategies import STRATEGIES


def out_of(argv, capsys) -> str:
    assert main(argv) == 0
    return " ".join(capsys.readouterr().out.split())


def test_list_without_argument_shows_every_registry_grouped(capsys):
    out = out_of(["list"], capsys)
    headings = [f"{item.plural} ({item.where})" for item in LISTABLES]
    positions = [out.index(h) for h in headings]
    assert positions == sorted(positions)
    for name in ("minilm-l6", "lora", "l2-sp", "macro_f1", "adamw", "cosine", "tweets", "hflip",
                 "text-regression"):
        assert name in out


def test_every_registry_a_recipe_names_is_listable(capsys):
    plurals = {item.plural for item in LISTABLES}
    assert {"models", "tasks", "strategies", "regularisers", "metrics", "optimizers", "schedulers",
            "datasets", "augmentations"} <= plurals
    out = out_of(["list", "regularisers"], capsys)
    assert all(name in out for name in REGULARISERS.names())


def test_verbose_lists_each_strategy_with_its_options(capsys):
    out = out_of(["list", "strategies", "--verbose"], capsys)
    for name in STRATEGIES.names():
        assert name in out
    assert "r int 8 rank of the low-rank update" in out          # lora's rank: name, type, default, help
    assert "top_blocks int | null null" in out                   # freeze: an optional option


def test_show_one_strategy(capsys):
    out = out_of(["show", "strategy", "lora"], capsys)
    assert "alpha float 16.0" in out and "dropout float 0.0" in out
    assert "decay" not in out                                    # another strategy's option
    assert "recipe: strategy.name: lora" in out


def test_show_regulariser_marks_required_option(capsys):
    assert "weight float (required)" in out_of(["show", "regulariser", "l2-sp"], capsys)


def test_optimizer_options_are_the_ones_that_apply(capsys):
    sgd = out_of(["show", "optimizer", "sgd"], capsys)
    assert "momentum float 0.9" in sgd and "betas" not in sgd
    assert "betas tuple[float, float] [0.9, 0.999]" in out_of(["show", "optimizer", "adamw"], capsys)


def test_show_facts_of_tasks_and_datasets(capsys):
    assert "default metric: r2" in out_of(["show", "task", "text-regression"], capsys)
    assert "splits: train" in out_of(["show", "dataset", "tweets"], capsys)
    assert "better: lower" in out_of(["show", "metric", "rmse"], capsys)
    assert "kind: timm input: image architecture: tf_efficientnet_lite0" in out_of(
        ["show", "model", "efficientnet-lite0"], capsys)


@pytest.mark.parametrize("argv, message", [
    (["list", "stratgies"], 'cannot list \'stratgies\' (did you mean "strategies"?)'),
    (["show", "strategy", "lorra"], 'unknown strategy \'lorra\' (did you mean "lora"?)'),
    (["show", "gizmo", "x"], "cannot list 'gizmo'; choose one of: models"),
])
def test_unknown_names_are_exit_2_with_a_hint(argv, message, capsys):
    assert main(argv) == 2
    assert message in " ".join(capsys.readouterr().err.split())

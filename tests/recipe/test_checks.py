"""The recipe's checks are contributed by the packages that own them and walked in one order.

The recipe layer imports none of them (tests/test_architecture.py); importing :mod:`tuneforge`
tells it how to load them, and the first validation or recipe built loads them all.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tuneforge.recipe import Recipe, load_recipe, recipe_to_yaml
from tuneforge.recipe.checks import RECIPE_CHECKS, CheckContext, RecipeChecks
from tuneforge.recipe.hooks import HOOKS, hook, provide

SRC = Path(__file__).resolve().parents[2] / "src"

# the order `tuneforge validate` reports problems in: facts first (task, strategy, model), then what uses them
ORDER = ["task", "strategy", "regularisers", "optimizer.name, scheduler.name", "evaluate.metric",
         "evaluate.metric of the task", "data", "train.class_balance", "train.label_smoothing",
         "train.early_stopping", "train.cache_frozen with train.compile", "train.cache_frozen with data.augment",
         "model", "model.name for the task", "strategy.blocks", "privacy", "optimizer.lr_factor",
         "strategy.name: auto", "evaluate", "search", "output.trackers", "tasks, continual", "output.dir"]


def test_every_owner_s_checks_are_registered_in_their_order():
    assert RECIPE_CHECKS.names() == ORDER


def test_each_check_comes_from_its_owner_s_package():
    owners = {c.name: c.fn.__module__ for c in RECIPE_CHECKS}
    assert owners["task"] == "tuneforge.tasks.checks"
    assert owners["strategy"] == owners["strategy.blocks"] == "tuneforge.strategies.checks"
    assert owners["data"] == "tuneforge.data.checks"
    assert owners["model"] == "tuneforge.models.checks"
    assert owners["privacy"] == "tuneforge.privacy.checks"
    assert owners["search"] == "tuneforge.search.checks"
    assert owners["tasks, continual"] == "tuneforge.continual.checks"
    assert owners["output.dir"] == "tuneforge.recipe.validate"


def test_every_hook_is_provided():
    assert sorted(HOOKS) == ["data.augment", "task.default_strategy"]
    assert hook("task.default_strategy")("causal-lm") == "lora"
    assert hook("task.default_strategy")("text-classification") == "full"
    assert hook("task.default_strategy")("no-such-task") == "full"
    assert hook("data.augment")("light")[0] == {"name": "hflip", "p": 0.5}


def test_a_check_runs_only_with_the_facts_it_needs_and_sees_earlier_problems():
    checks, seen = RecipeChecks(), []

    @checks.register("second", order=20, needs=("task",))
    def _second(recipe, ctx):
        seen.append(list(ctx.problems))
        return [f"second: {ctx.task}"]

    @checks.register("first", order=10)
    def _first(recipe, ctx):
        if recipe == "with a task":
            ctx.task = "t"
        return ["first: found"]

    assert checks.run("no task") == ["first: found"] and seen == []
    assert checks.run("with a task", CheckContext()) == ["first: found", "second: t"]
    assert seen == [["first: found"]]


def test_a_name_registered_twice_or_an_unknown_fact_or_hook_is_refused():
    checks = RecipeChecks()
    checks.register("a", order=1)(lambda r, c: [])
    with pytest.raises(ValueError, match="registered twice"):
        checks.register("a", order=2)(lambda r, c: [])
    with pytest.raises(ValueError, match="unknown facts"):
        checks.register("b", order=3, needs=("dataset",))
    with pytest.raises(ValueError, match="unknown recipe hook"):
        provide("train.epochs")
    with pytest.raises(ValueError, match="provided twice"):
        provide("data.augment")(lambda v: v)


def test_a_recipe_built_in_python_without_a_strategy_gets_and_saves_its_task_s_default():
    recipe = Recipe(task="causal-lm", model={"name": "x"}, data={"train": "a.csv"})
    assert recipe.strategy.name == "lora" and "name: lora" in recipe_to_yaml(recipe)
    assert load_recipe({"task": "text-classification", "model": {"name": "x"},
                        "data": {"train": "a.csv"}}).strategy.name == "full"


def test_the_recipe_layer_loads_the_owners_on_first_use_only():
    probe = ("import json, sys\nimport tuneforge.recipe\nbefore = 'tuneforge.plugins' in sys.modules or 'torch' in "
             "sys.modules\nfrom tuneforge.recipe import Recipe\nr = Recipe(task='causal-lm', model={'name': 'x'}, "
             "data={'train': 'a.csv', 'augment': 'light'})\nprint(json.dumps({'before': before, 'after': "
             "'tuneforge.plugins' in sys.modules, 'strategy': r.strategy.name}))")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"before": False, "after": True, "strategy": "lora"}

"""Every recipe shipped in recipes/ is valid (checked like `tuneforge validate`, no model loaded)."""
from pathlib import Path

import pytest

from tuneforge.recipe import load_recipe, recipe_problems

from helpers.fashion import REASON, fashion_missing

RECIPES = sorted((Path(__file__).resolve().parents[2] / "recipes").glob("*.yaml"))


def test_there_are_shipped_recipes():
    names = {p.name for p in RECIPES}
    assert {"demo.yaml", "fashion-mnist-efficientnet.yaml", "tweets-confidence-regression.yaml"} <= names


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_shipped_recipe_is_valid(path):
    recipe = load_recipe(path)
    if "fashion-mnist" in str(recipe.data.train) and fashion_missing():
        pytest.skip(REASON)
    assert recipe_problems(recipe) == []

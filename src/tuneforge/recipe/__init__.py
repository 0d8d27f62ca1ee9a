"""Recipes: the data that fully describes a run, its loading, overrides and validation."""
from .load import load_recipe, parse_override, recipe_to_yaml
from .schema import Recipe
from .validate import all_problems, check_recipe, recipe_problems

__all__ = ["Recipe", "load_recipe", "parse_override", "recipe_to_yaml", "check_recipe", "recipe_problems", "all_problems"]

"""The defaults the documentation states are the schema's defaults (README's recipe, docs/speed.md)."""
import re
from pathlib import Path

import pytest
import yaml

from tuneforge.recipe.schema import Recipe

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ["strategy", "optimizer", "scheduler", "train", "evaluate", "output"]  # the rest are examples


def readme_recipe() -> dict:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Recipes", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    return yaml.safe_load(block)


def schema_default(section: str, key: str):
    model = Recipe.model_fields[section].default_factory()
    value = getattr(model, key)
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize("section", SECTIONS)
def test_readme_recipe_shows_the_schema_defaults(section):
    documented = readme_recipe()[section]
    assert documented, f"README's recipe has no {section} section"
    for key, value in documented.items():
        assert value == schema_default(section, key), f"README says {section}.{key}: {value!r}"


def test_speed_doc_names_the_default_precision():
    text = " ".join((ROOT / "docs" / "speed.md").read_text(encoding="utf-8").split())
    stated = re.findall(r"default (?:is|stays) `(\w+)`", text.split("## Precision", 1)[1].split("##", 1)[0])
    assert stated == [schema_default("train", "precision")]

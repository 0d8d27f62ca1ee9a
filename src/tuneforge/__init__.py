"""tuneforge: fine-tune pre-trained models from one recipe, and know what you got.

    import tuneforge
    result = tuneforge.finetune("recipes/demo.yaml", **{"train.epochs": 1})
    print(result.metrics["test"], result.run_dir)
"""
from .api import federate, finetune, resume, search, validate
from .errors import DataError, ModelError, RecipeError, TrainingError, TuneforgeError
from .recipe import Recipe, load_recipe
from .recipe.owners import load_owners_with


def _import_plugins() -> None:
    """The packages that contribute recipe checks and hooks (heavy: torch...), imported on first validation."""
    from . import plugins  # noqa: F401  (imported for its registrations)


load_owners_with(_import_plugins)

__version__ = "0.1.0"
__all__ = ["finetune", "federate", "resume", "search", "validate", "load_recipe", "Recipe", "TuneforgeError", "RecipeError",
           "DataError", "ModelError", "TrainingError"]

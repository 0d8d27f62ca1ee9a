"""tuneforge: fine-tune pre-trained models from one recipe, and know what you got.

    import tuneforge
    result = tuneforge.finetune("recipes/demo.yaml", **{"train.epochs": 1})
    print(result.metrics["test"], result.run_dir)
"""
from .api import federate, finetune, resume, search, validate
from .errors import DataError, ModelError, RecipeError, TrainingError, TuneforgeError
from .recipe import Recipe, load_recipe

__version__ = "0.1.0"
__all__ = ["finetune", "federate", "resume", "search", "validate", "load_recipe", "Recipe", "TuneforgeError", "RecipeError",
           "DataError", "ModelError", "TrainingError"]

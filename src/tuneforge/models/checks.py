"""The recipe checks the models own: the model resolves, and its modality suits the task.

Registered into :mod:`tuneforge.recipe.checks` when imported. The model is looked at on PyTorch's
meta device (:func:`peek_model`: its config and layer map, no weights); what it says is the
``model`` fact later checks read (the strategy's blocks, privacy).
"""
from __future__ import annotations

from ..data.modalities import MODALITIES
from ..errors import TuneforgeError
from ..recipe.checks import RECIPE_CHECKS
from .loading import peek_model


@RECIPE_CHECKS.register("model", order=130)
def _model(recipe, ctx) -> list[str]:
    try:
        ctx.model = peek_model(recipe.model)
    except TuneforgeError as e:
        return [p if p.startswith("model") else f"model.name: {p}" for p in e.problems]
    return []


@RECIPE_CHECKS.register("model.name for the task", order=140, needs=("model", "task"))
def _modality(recipe, ctx) -> list[str]:
    """An image task gets an image model, a text task a text model..."""
    needs = MODALITIES.get(ctx.task.modality).model_modality
    if ctx.model.modality and ctx.model.modality != needs:
        return [f"model.name: {recipe.model.name!r} is a {ctx.model.modality} model, "
                f"but task {recipe.task!r} needs a {needs} model"]
    return []

"""Training-time image augmentation: the names ``data.augment`` accepts, presets, and their application.

``AUGMENTATIONS`` lists every augmentation with its options (``tuneforge list augmentations``);
``PRESETS`` the ready-made lists (light, medium, heavy); :func:`parse_augment` reads a recipe's
value; :class:`AugmentPipeline` applies it to a training batch. docs/augmentation.md has the
user's side, including why augmentation turns the frozen-prefix cache off.
"""
from .catalog import AUGMENTATIONS, Augmentation
from .pipeline import AugmentPipeline
from .spec import PRESETS, parse_augment, preset_names

__all__ = ["AUGMENTATIONS", "Augmentation", "AugmentPipeline", "PRESETS", "parse_augment", "preset_names"]

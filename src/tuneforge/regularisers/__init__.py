"""Regularisers against catastrophic forgetting (combinable with any strategy)."""
from . import distillation, ewc, l2_sp  # noqa: F401  (registration)
from .base import REGULARISERS, Regulariser, RegulariserOptions, build_regularisers

__all__ = ["REGULARISERS", "Regulariser", "RegulariserOptions", "build_regularisers"]

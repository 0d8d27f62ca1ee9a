"""Regularisers against catastrophic forgetting (combinable with any strategy)."""
from .base import REGULARISERS, Regulariser, RegulariserOptions, build_regularisers

__all__ = ["REGULARISERS", "Regulariser", "RegulariserOptions", "build_regularisers"]

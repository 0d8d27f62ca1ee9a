"""Every package's contributions to the recipe layer, imported together.

The recipe (the bottom layer) walks checks and asks hooks that the packages above it register
(:mod:`tuneforge.recipe.checks`, :mod:`tuneforge.recipe.hooks`). Importing this module registers
them all: the tasks, strategies, regularisers, data, models, metrics, the frozen-prefix cache,
training, privacy, the strategy race, the search and continual fine-tuning. A new package with recipe checks adds its
``checks`` module here.

It imports torch and the rest, so nothing imports it at start-up: ``tuneforge/__init__.py`` hands
:func:`tuneforge.recipe.owners.load_owners_with` a loader, and the recipe layer imports this module
the first time it validates or builds a recipe (``tuneforge --help`` and ``list`` never do).
"""
from __future__ import annotations

from .continual import checks as continual_checks
from .data import checks as data_checks
from .evaluation import checks as evaluation_checks
from .models import checks as model_checks
from .modes import checks as mode_checks
from .prefix_cache import checks as prefix_cache_checks
from .privacy import checks as privacy_checks
from .regularisers import checks as regulariser_checks
from .search import checks as search_checks
from .strategies import checks as strategy_checks
from .tasks import checks as task_checks
from .training import checks as training_checks

OWNERS = (task_checks, strategy_checks, regulariser_checks, data_checks, model_checks, evaluation_checks,
          prefix_cache_checks, training_checks, privacy_checks, mode_checks, search_checks, continual_checks)

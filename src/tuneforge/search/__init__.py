"""Search: Optuna studies over a recipe's hyper-parameters and its fine-tuning strategy (docs/search.md)."""
from .spaces import SEARCH_SPACES
from .run import run_search as _run

__all__ = ["SEARCH_SPACES", "run_search"]


def run_search(*args, **kwargs):
    """See :func:`tuneforge.search.run.run_search`."""
    return _run(*args, **kwargs)

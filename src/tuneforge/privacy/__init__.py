"""Differentially private training (DP-SGD through Opacus): see docs/privacy.md.

``checks``: what a private run refuses; ``engine``: :class:`PrivateEngine`, the trainer's engine under
``privacy:`` (:func:`engine_for` chooses a run's engine). Opacus is imported only when a private
engine starts training.
"""
from .checks import model_problems, privacy_problems
from .engine import PrivateEngine, engine_for

__all__ = ["PrivateEngine", "engine_for", "model_problems", "privacy_problems"]

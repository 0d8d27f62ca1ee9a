"""Differentially private training (DP-SGD through Opacus): see docs/privacy.md.

``checks`` (what a private run refuses) imports no Opacus; ``engine`` (:class:`PrivateTraining`)
does, and is imported only by runs that have a ``privacy:`` section.
"""
from .checks import model_problems, privacy_problems

__all__ = ["model_problems", "privacy_problems"]

"""Continual fine-tuning: a sequence of tasks, each trained from the last (docs/continual.md).

A recipe with ``tasks:`` runs one ordinary step per task (:mod:`.run`), scores every task after
every step into an accuracy matrix (:mod:`.scoring`) and reports average accuracy, forgetting,
backward and forward transfer (:mod:`.metrics`); ``continual.replay`` adds a reservoir of
earlier examples (:mod:`.replay`).
"""
from .metrics import sequence_metrics
from .replay import reservoir
from .run import StepContext, resume_sequence, run_sequence
from .sequence import continual_problems

__all__ = ["run_sequence", "resume_sequence", "sequence_metrics", "reservoir", "continual_problems", "StepContext"]

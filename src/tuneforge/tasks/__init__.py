"""Tasks: what is predicted from what. One file per task registers it in :data:`TASKS`.

``TASKS.get(recipe.task)`` gives the :class:`Task` a run asks about everything that
differs between tasks (see ``tasks/base.py`` and ``docs/tasks.md``).
"""
from . import (causal_lm, image_classification, image_regression, text_classification, text_multilabel,  # noqa: F401
               text_regression)
from .base import TASKS, TargetScaler, Task, register
from .classification import ClassificationTask
from .multilabel import MultiLabelTask
from .regression import RegressionTask

__all__ = ["TASKS", "Task", "TargetScaler", "register", "ClassificationTask", "RegressionTask",
           "MultiLabelTask"]

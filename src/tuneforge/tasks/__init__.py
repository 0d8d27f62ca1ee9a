"""Tasks: what is predicted from what. One file per task registers it in :data:`TASKS`.

``TASKS.get(recipe.task)`` gives the :class:`Task` a run asks about everything that
differs between tasks (see ``tasks/base.py`` and ``docs/tasks.md``).
"""
from . import (audio_classification, causal_lm, image_classification, image_multilabel, image_regression,  # noqa: F401
               text_classification, text_multilabel, text_regression)
from . import text_token_classification  # noqa: F401
from .base import TASKS, TargetScaler, Task, register
from .classification import ClassificationTask
from .multilabel import MultiLabelTask
from .regression import RegressionTask
from .token_classification import TokenClassificationTask

__all__ = ["TASKS", "Task", "TargetScaler", "register", "ClassificationTask", "RegressionTask",
           "MultiLabelTask", "TokenClassificationTask"]

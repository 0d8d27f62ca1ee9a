from .base import TASKS, TargetScaler, Task

__all__ = ["TASKS", "Task", "TargetScaler"]

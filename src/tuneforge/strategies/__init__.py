"""Fine-tuning strategies: each decides which blocks train, at which learning-rate scale, when."""
from . import freeze, full, linear_probe  # noqa: F401  (registration)
from .base import STRATEGIES, Plan, Stage, Strategy, StrategyOptions
from .param_groups import ParamGroup, build_param_groups

__all__ = ["STRATEGIES", "Plan", "Stage", "Strategy", "StrategyOptions", "ParamGroup", "build_param_groups"]

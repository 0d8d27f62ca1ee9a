"""Fine-tuning strategies: each decides which blocks train, at which learning-rate scale, when."""
from . import (auto, bitfit, discriminative, dora, freeze, full, gradual_unfreezing, ia3, layer_wise,  # noqa: F401
               linear_probe, loha, lokr, lora, lp_ft, prefix_tuning, prompt_tuning)  # (registration)
from .base import STRATEGIES, Plan, Stage, Strategy, StrategyOptions
from .param_groups import ParamGroup, build_param_groups

__all__ = ["STRATEGIES", "Plan", "Stage", "Strategy", "StrategyOptions", "ParamGroup", "build_param_groups"]

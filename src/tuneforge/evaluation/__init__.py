"""Evaluation: metrics, whole-split prediction, and the baselines a fine-tuned model is compared with."""
from .baseline import linear_probe_baseline, majority_baseline
from .metrics import METRICS, compute_metrics, default_metric, greater_is_better, list_metrics
from .predict import extract_features, predict_outputs
from . import multilabel  # noqa: E402,F401  (registers the multi-label metrics)
from . import perplexity  # noqa: E402,F401  (registers the language-model metrics)

__all__ = [
    "METRICS", "compute_metrics", "default_metric", "greater_is_better", "list_metrics",
    "predict_outputs", "extract_features",
    "linear_probe_baseline", "majority_baseline",
]

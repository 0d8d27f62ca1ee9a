"""Regression: one number per example (a single linear output, mean squared error).

The base of ``text-regression`` and ``image-regression``: targets must be finite numbers
(missing ones dropped or filled, ``data.clean.missing_target``), are trained standardised
(:class:`TargetScaler`) and reported in original units; splits are plain random; the
linear-probe baseline is ridge regression and the majority baseline the training mean.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .base import TargetScaler, Task
from ..data.cleaning import numeric_targets
from ..evaluation.baseline import majority_outputs
from ..evaluation.baseline import linear_probe_outputs


class RegressionTask(Task):
    metric_kind = "regression"
    problem_type = "regression"
    probe_kind = "ridge"
    summary_columns = ("mae", "mse", "rmse", "r2")
    headline_metrics = ("r2", "mae", "rmse", "mse")
    leaderboard_columns = ("r2", "mae", "rmse")

    def check_data(self, data) -> list[str]:
        if data.labels is not None:
            return ["data.labels: class names are only used by classification tasks"]
        return []

    def clean_targets(self, df, label_column, data, source, lines, report):
        return numeric_targets(df, label_column, data.clean, source, lines, report)

    def encode_targets(self, labels, names, declared, where) -> np.ndarray:
        return labels.to_numpy(dtype=np.float32)

    def target_scaler(self, train_targets):
        return TargetScaler.fit(train_targets)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, weights=None) -> torch.Tensor:
        return F.mse_loss(outputs.float().squeeze(-1), targets.float())

    def majority_outputs(self, train_targets, n, label_names):
        return majority_outputs(self.metric_kind, train_targets, n)

    def probe_outputs(self, train_x, train_targets, eval_sets, label_names, seed):
        return linear_probe_outputs(self.metric_kind, train_x, train_targets, eval_sets, seed=seed)

    def predict_rows(self, outputs, label_names, decision=None) -> list[dict]:
        return [{"value": float(v)} for v in np.asarray(outputs).reshape(-1)]

    def card_pipeline(self, folder, inputs, data, load_args):
        args = inputs.card_pipeline_args(data)
        return [], inputs.card_pipeline(data, load_args) + [
            f'predictions = [row[0]["score"] for row in classifier(inputs, function_to_apply="none", top_k=1{args})]'
            "   # the target, in its original units"]

    def format_prediction(self, row: dict) -> tuple[str, str]:
        return f"{row['value']:.4g}", ""

"""Single-label classification: one of K named classes per example (softmax head, cross-entropy).

The base of ``text-classification`` and ``image-classification``: labels are cleaned to
strings, class names come from ``data.labels`` or the training labels, splits and folds
are stratified by class, and the linear-probe baseline is a softmax (logistic) head.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError
from ..evaluation.metrics import class_prior_entropy
from ..registry import did_you_mean
from .base import Task
from .base import TASKS
from ..data.cleaning import label_targets
from ..data.balance import inverse_frequency_weights
from ..data.balance import AUTO_RATIO, imbalance_ratio
from ..evaluation.threshold import tune_threshold
from ..evaluation.metrics import compute_metrics
from ..evaluation.bootstrap import confidence_intervals
from ..evaluation.curves import classification_curves
from ..evaluation.top_losses import most_confused, top_losses
from ..evaluation.baseline import majority_outputs
from ..evaluation.baseline import linear_probe_outputs
from ..evaluation.threshold import decide


class ClassificationTask(Task):
    metric_kind = "classification"
    scores_accuracy = True
    problem_type = "single_label_classification"
    probe_kind = "softmax"
    explains = True
    soft_targets = True
    smooths_labels = True
    class_balance_choices = ("weights", "sampling")
    summary_columns = ("accuracy", "macro_f1")
    headline_metrics = ("accuracy", "macro_f1", "balanced_accuracy", "roc_auc", "pr_auc", "log_loss", "ece")
    leaderboard_columns = ("accuracy", "macro_f1", "roc_auc")

    @property
    def has_classes(self) -> bool:
        return True

    # -- data ----------------------------------------------------------------------------------

    def check_data(self, data) -> list[str]:
        if data.labels is None:
            return []
        if len(set(map(str, data.labels))) != len(data.labels):
            return ["data.labels: a class name is listed twice"]
        if len(data.labels) < 2:
            return ["data.labels: classification needs at least 2 classes"]
        return []

    def clean_targets(self, df, label_column, data, source, lines, report):
        return label_targets(df, label_column, data.clean, source, lines, report)

    def label_names(self, train_labels, data, own_order) -> list[str]:
        if data.labels:
            return [str(x) for x in data.labels]
        values = sorted(set(train_labels))
        if own_order and train_labels.name == "label" and set(values) <= set(own_order):
            return list(own_order)  # a packaged data set's own class order (class id = its original label)
        if all(v.lstrip("-").isdigit() for v in values):
            values.sort(key=int)  # "2" before "10"
        return values

    def encode_targets(self, labels, names, declared, where) -> np.ndarray:
        mapping = {name: i for i, name in enumerate(names)}
        ids = labels.map(mapping)
        unknown = ids.isna()
        if unknown.any():
            i = unknown.idxmax()
            value = labels.at[i]
            known = ", ".join(names) if len(names) <= 20 else ", ".join(names[:20]) + ", ..."
            seen = "the declared classes (data.labels)" if declared else "the classes seen in train"
            raise DataError(f"{where(i)}: label {value!r} is not one of {seen}: {known}"
                            f"{did_you_mean(value, names)}; fix the label"
                            f"{' or add it to data.labels' if declared else ' or add examples of it to train'}")
        return ids.to_numpy(dtype=np.int64)

    def stratify_key(self, targets: np.ndarray) -> Optional[np.ndarray]:
        return np.asarray(targets)

    def empty_targets(self, n: int) -> np.ndarray:
        return np.zeros(n, dtype=np.int64)

    # -- training and evaluation ---------------------------------------------------------------

    def class_counts(self, targets, label_names) -> dict[str, int]:
        k = len(label_names) if label_names else int(np.max(targets)) + 1
        names = label_names or [str(i) for i in range(k)]
        return {n: int(c) for n, c in zip(names, np.bincount(np.asarray(targets, dtype=np.int64), minlength=k))}

    def loss_weights(self, train_targets, label_names) -> np.ndarray:
        return inverse_frequency_weights(np.array(list(self.class_counts(train_targets, label_names).values())))

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, weights=None,
             label_smoothing: float = 0.0) -> torch.Tensor:
        """Cross-entropy; with class ``weights`` each example counts ``w[y]``, normalised by the batch's
        total weight (``sum w[y_i] * ce_i / sum w[y_i]``, PyTorch's ``weight=`` convention).

        Targets may be probability rows (float ``B x K``, from mixup or cutmix): ``-sum_k p_k log
        softmax(outputs)_k``, the weighted sum of the mixed classes' losses; with class weights an
        example counts ``sum_k p_k w_k``.

        ``label_smoothing`` (``train.label_smoothing``, eps): the target becomes ``(1 - eps) y + eps / K``,
        PyTorch's ``F.cross_entropy(label_smoothing=eps)``; probability rows are smoothed the same way."""
        if targets.is_floating_point():
            if label_smoothing:
                targets = targets.float() * (1.0 - label_smoothing) + label_smoothing / outputs.shape[-1]
            per_example = -(targets.float() * F.log_softmax(outputs.float(), dim=-1)).sum(-1)
            if weights is None:
                return per_example.mean()
            w = (targets.float() * weights.float()).sum(-1)
            return (w * per_example).sum() / w.sum()
        return F.cross_entropy(outputs.float(), targets, weight=None if weights is None else weights.float(),
                               label_smoothing=label_smoothing)

    def fit_decision(self, targets, outputs, metric=None, evaluate=None) -> Optional[dict]:
        """Binary only: the threshold on P(second class) tuned on validation for ``metric`` when
        ``evaluate.threshold`` is ``tune``, or ``auto`` and the validation classes are imbalanced."""

        outputs = np.asarray(outputs)
        option = evaluate.threshold if evaluate is not None else "auto"
        if outputs.ndim != 2 or outputs.shape[1] != 2 or option == "argmax" or len(targets) == 0:
            return None
        ratio = imbalance_ratio(self.class_counts(targets, None))
        if option == "auto" and (ratio is None or ratio <= AUTO_RATIO):
            return None
        decision = tune_threshold(targets, outputs, metric or self.default_metric())
        decision["why"] = "evaluate.threshold: tune" if option == "tune" else \
            f"auto: validation classes largest/smallest {ratio:.1f} > {AUTO_RATIO:g}"
        return decision

    def describe_decision(self, decision) -> Optional[str]:
        if _threshold(decision) is None:
            return None
        return (f"threshold {decision['threshold']:.2f} on P(second class), tuned on validation for "
                f"{decision['metric']} ({decision['validation']:.4f}; {decision['validation_at_0.5']:.4f} at 0.5); "
                f"{decision['why']}")

    def input_free_loss(self, model, train_targets) -> float:
        """Cross-entropy of predicting the training class frequencies: their entropy."""
        return class_prior_entropy(train_targets)

    def compute_metrics(self, targets, outputs, label_names, decision=None) -> dict:
        return compute_metrics(self.metric_kind, targets, outputs, label_names, _threshold(decision))

    def test_statistics(self, targets, outputs, label_names, evaluate, seed, decision=None) -> dict:
        from scipy.special import softmax

        out = {"test_ci": confidence_intervals(self.metric_kind, targets, outputs, evaluate.bootstrap,
                                               evaluate.confidence, seed, threshold=_threshold(decision)),
               "confidence": evaluate.confidence, "bootstrap": evaluate.bootstrap}
        out["test_curves"] = classification_curves(targets, softmax(np.asarray(outputs, np.float64), axis=1),
                                                   label_names)
        return out

    def top_losses(self, targets, outputs, label_names, n, decision=None):
        threshold = _threshold(decision)
        return {"examples": top_losses(targets, outputs, label_names, n, threshold),
                "most_confused": most_confused(targets, outputs, label_names, threshold=threshold)}

    def majority_outputs(self, train_targets, n, label_names):
        return majority_outputs(self.metric_kind, train_targets, n,
                                None if label_names is None else len(label_names), label_names)

    def probe_outputs(self, train_x, train_targets, eval_sets, label_names, seed):
        return linear_probe_outputs(self.metric_kind, train_x, train_targets, eval_sets, label_names, seed=seed)

    # -- prediction ----------------------------------------------------------------------------

    def predict_rows(self, outputs, label_names, decision=None) -> list[dict]:

        probs = torch.softmax(torch.as_tensor(np.asarray(outputs), dtype=torch.float32), dim=-1).numpy()
        names = label_names or [str(i) for i in range(probs.shape[1])]
        chosen = decide(probs, _threshold(decision))
        return [{"label": names[int(c)], "probabilities": {n: float(v) for n, v in zip(names, row)}}
                for c, row in zip(chosen, probs)]

    def format_prediction(self, row: dict) -> tuple[str, str]:
        return row["label"], super().format_prediction(row)[1]

    def card_pipeline(self, folder, inputs, data, load_args):
        lines, args = inputs.card_pipeline(data, load_args), inputs.card_pipeline_args(data)
        if not (Path(folder) / THRESHOLD_FILE).is_file():
            return [], lines + [f'predictions = [row[0]["label"] for row in classifier(inputs, top_k=1{args})]']
        return ["import json", "import os"], lines + [
            f'rule = json.load(open(os.path.join(MODEL, "{THRESHOLD_FILE}")))   # the threshold tuned on validation',
            f"scores = [{{s['label']: s['score'] for s in row}} for row in classifier(inputs, top_k=2{args})]",
            'other = next(name for name in scores[0] if name != rule["positive"])',
            'predictions = [rule["positive"] if row[rule["positive"]] >= rule["threshold"] else other for row in scores]']

    def card_logits_decision(self, folder):
        if not (Path(folder) / THRESHOLD_FILE).is_file():
            return None
        return [f'rule = json.load(open(f"{{MODEL}}/{THRESHOLD_FILE}"))   # the threshold tuned on validation',
                'positive = logits.softmax(-1)[:, labels.index(rule["positive"])].tolist()',
                'other = next(name for name in labels if name != rule["positive"])',
                'predictions = [rule["positive"] if p >= rule["threshold"] else other for p in positive]']

    def model_files(self, folder, decision) -> None:
        """A tuned binary threshold goes to ``threshold.json`` beside the model (absent: argmax)."""
        path = Path(folder) / THRESHOLD_FILE
        if _threshold(decision) is None:
            path.unlink(missing_ok=True)
            return
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
        names = [config["id2label"][str(i)] for i in range(2)] if "id2label" in config \
            else config.get("label_names") or ["0", "1"]
        path.write_text(json.dumps({"positive": names[1], "threshold": decision["threshold"],
                                    "metric": decision.get("metric"),
                                    "rule": f"predict {names[1]!r} where its probability >= threshold"},
                                   indent=2), encoding="utf-8")

    def read_decision(self, folder) -> Optional[dict]:
        path = Path(folder) / THRESHOLD_FILE
        if not path.is_file():
            return None
        saved = json.loads(path.read_text(encoding="utf-8"))
        return {"threshold": float(saved["threshold"]), "metric": saved.get("metric")}

    def applied_decision(self, decision, label_names) -> dict:
        """The tuned threshold of ``threshold.json`` on P(second class), or argmax when none was saved."""
        threshold = _threshold(decision)
        if threshold is None:
            return {"rule": "argmax", "source": f"default: no model/{THRESHOLD_FILE}",
                    "text": f"argmax, the most probable class (no tuned threshold in model/{THRESHOLD_FILE})"}
        positive = label_names[1] if label_names and len(label_names) == 2 else "second class"
        tuned = f", tuned on validation for {decision['metric']}" if decision.get("metric") else ""
        return {"rule": "threshold", "positive": positive, "threshold": threshold, "metric": decision.get("metric"),
                "source": f"model/{THRESHOLD_FILE}",
                "text": f"P({positive}) >= {threshold:.4g} (model/{THRESHOLD_FILE}{tuned})"}


THRESHOLD_FILE = "threshold.json"


def _threshold(decision: Optional[dict]) -> Optional[float]:
    return None if not decision or decision.get("threshold") is None else float(decision["threshold"])


def classification_task_for(modality: str) -> ClassificationTask:
    """The registered single-label classification task of ``modality`` (labelled source data for retention)."""
    for name in TASKS.names():
        task = TASKS.get(name)
        if type(task).__mro__[1] is ClassificationTask and task.modality == modality:
            return task
    raise LookupError(f"no classification task for {modality} inputs is registered")

"""Multi-label classification: any subset of L named labels per example (one sigmoid per label, BCE).

The base of ``text-multilabel`` and ``image-multilabel``. A label cell is a list (JSONL,
Parquet), a JSON list written as text, or a string of labels joined by ``data.label_delimiter``
(default ``|``); an empty list is a valid row with no label, a missing cell is dropped.
Label names come from ``data.labels`` or the training rows (sorted). Splits, subsets and folds
are stratified by each row's rarest label (:func:`rarest_label_key`). After training, each
label's threshold is tuned for F1 on the validation split (0.5 without one); test metrics, ``predict`` and the saved model
(``thresholds.json`` beside it, and ``config.json`` with
``problem_type="multi_label_classification"``) use those thresholds.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..errors import DataError
from ..evaluation.multilabel import label_prior_entropy
from ..registry import did_you_mean
from .base import Task
from ..data.cleaning import label_string
from ..evaluation import multilabel
from ..data.cleaning import drop_rows

THRESHOLDS_FILE = "thresholds.json"


def parse_labels(value, delimiter: str = "|") -> Optional[list[str]]:
    """The label names in one cell, or None when the cell is missing.

    >>> parse_labels("sports | politics"), parse_labels(["a", "b"]), parse_labels("[]")
    (['sports', 'politics'], ['a', 'b'], [])
    """

    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        items = list(value)
    elif value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    else:
        text = str(value).strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError:
                items = text.split(delimiter)
            if not isinstance(items, list):
                items = [items]
        elif not text:
            return None
        else:
            items = text.split(delimiter)
    labels = [label_string(x) for x in items if x is not None and str(x).strip()]
    return list(dict.fromkeys(labels))   # a label named twice in one cell counts once


class MultiLabelTask(Task):
    metric_kind = "multilabel"
    problem_type = "multi_label_classification"
    probe_kind = "sigmoid"
    summary_columns = ("micro_f1", "macro_f1", "subset_accuracy")
    headline_metrics = ("micro_f1", "macro_f1", "samples_f1", "subset_accuracy", "map", "hamming_loss")
    leaderboard_columns = ("micro_f1", "macro_f1", "map")

    def __init__(self):
        self.metrics = multilabel

    @property
    def has_classes(self) -> bool:
        return True

    # -- data ----------------------------------------------------------------------------------

    def check_data(self, data) -> list[str]:
        if data.labels is not None and len(set(map(str, data.labels))) != len(data.labels):
            return ["data.labels: a label is listed twice"]
        if data.labels is not None and len(data.labels) < 1:
            return ["data.labels: a multi-label task needs at least 1 label"]
        return []

    def clean_targets(self, df, label_column, data, source, lines, report):

        parsed = df[label_column].map(lambda v: parse_labels(v, data.label_delimiter))
        df = drop_rows(df, parsed.isna(), "missing label", label_column, data.clean, source, lines, report).copy()
        df[label_column] = parsed[parsed.notna()].astype(object)
        return df

    def label_names(self, train_labels, data, own_order) -> list[str]:
        if data.labels:
            return [str(x) for x in data.labels]
        names = sorted({x for row in train_labels for x in row})
        if not names:
            raise DataError("data.train: no row has any label; a multi-label task needs at least one label")
        return names

    def encode_targets(self, labels, names, declared, where) -> np.ndarray:
        index = {n: i for i, n in enumerate(names)}
        out = np.zeros((len(labels), len(names)), dtype=np.float32)
        for r, (i, row) in enumerate(labels.items()):
            for label in row:
                if label not in index:
                    seen = "the declared labels (data.labels)" if declared else "the labels seen in train"
                    raise DataError(f"{where(i)}: label {label!r} is not one of {seen}: {', '.join(names[:20])}"
                                    f"{did_you_mean(label, names)}; fix the label"
                                    f"{' or add it to data.labels' if declared else ' or add examples of it to train'}")
                out[r, index[label]] = 1.0
        return out

    def empty_targets(self, n: int) -> np.ndarray:
        return np.zeros((n, 1), dtype=np.float32)

    def stratify_key(self, targets) -> Optional[np.ndarray]:
        """Each row's rarest label (see :func:`rarest_label_key`): splits, subsets and folds keep the
        rare labels' shares, which random splits most often lose."""
        return rarest_label_key(np.asarray(targets))

    # -- training and evaluation ---------------------------------------------------------------

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, weights=None) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(outputs.float(), targets.float())

    def default_metric(self) -> str:
        return "micro_f1"

    def class_counts(self, targets, label_names) -> dict[str, int]:
        targets = np.asarray(targets)
        names = label_names or [str(i) for i in range(targets.shape[1])]
        return {n: int(c) for n, c in zip(names, targets.sum(axis=0))}

    def fit_decision(self, targets, outputs, metric=None, evaluate=None) -> Optional[dict]:
        return {"thresholds": self.metrics.tune_thresholds(targets, outputs).tolist()}

    def input_free_loss(self, model, train_targets) -> float:
        """BCE of predicting each label's training rate: the mean binary entropy of the rates."""
        return label_prior_entropy(train_targets)

    def compute_metrics(self, targets, outputs, label_names, decision=None) -> dict:
        return self.metrics.multilabel_metrics(targets, outputs, label_names, _thresholds(decision))

    def test_statistics(self, targets, outputs, label_names, evaluate, seed, decision=None) -> dict:
        return {"test_ci": self.metrics.confidence_intervals(targets, outputs, _thresholds(decision),
                                                             evaluate.bootstrap, evaluate.confidence, seed),
                "confidence": evaluate.confidence, "bootstrap": evaluate.bootstrap}

    def paired_bootstrap(self, targets, outputs_a, outputs_b, metric, resamples, confidence, seed) -> dict:
        return self.metrics.paired_bootstrap(targets, outputs_a, outputs_b, metric, resamples, confidence, seed)

    def majority_outputs(self, train_targets, n, label_names):
        return self.metrics.prior_logits(train_targets, n)

    def probe_outputs(self, train_x, train_targets, eval_sets, label_names, seed):
        probe = self.metrics.fit_one_vs_rest_probe(train_x, train_targets, seed)
        return {name: probe(f) for name, (f, _) in eval_sets.items()}

    def retention_targets(self, targets):
        return None

    # -- prediction and the saved model --------------------------------------------------------

    def predict_rows(self, outputs, label_names, decision=None) -> list[dict]:
        probs = torch.sigmoid(torch.as_tensor(np.asarray(outputs), dtype=torch.float32)).numpy()
        names = label_names or [str(i) for i in range(probs.shape[1])]
        chosen = self.metrics.decide(probs, _thresholds(decision))
        return [{"labels": [n for n, on in zip(names, row) if on],
                 "probabilities": {n: float(v) for n, v in zip(names, p)}} for row, p in zip(chosen, probs)]

    def format_prediction(self, row: dict) -> tuple[str, str]:
        return ", ".join(row["labels"]) or "(none)", super().format_prediction(row)[1]

    def card_logits_decision(self, folder):
        return [f'thresholds = json.load(open(f"{{MODEL}}/{THRESHOLDS_FILE}"))   # per label, tuned on validation',
                "predictions = [[name for name, p in zip(labels, row) if p >= thresholds[name]]",
                "               for row in logits.sigmoid().tolist()]"]

    def card_pipeline(self, folder, inputs, data, load_args):
        args = inputs.card_pipeline_args(data)
        return ["import json", "import os"], inputs.card_pipeline(data, load_args) + [
            f'thresholds = json.load(open(os.path.join(MODEL, "{THRESHOLDS_FILE}")))   # per label, tuned on validation',
            f'scores = classifier(inputs, function_to_apply="sigmoid", top_k=len(thresholds){args})',
            'predictions = [[s["label"] for s in row if s["score"] >= thresholds[s["label"]]] for row in scores]'
            '   # by score']

    def model_files(self, folder, decision) -> None:
        folder = Path(folder)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        names = [config["id2label"][str(i)] for i in range(len(config["id2label"]))] \
            if "id2label" in config else config.get("label_names") or []
        thresholds = _thresholds(decision)
        values = [0.5] * len(names) if thresholds is None else [float(t) for t in thresholds]
        (folder / THRESHOLDS_FILE).write_text(json.dumps(dict(zip(names, values)), indent=2), encoding="utf-8")

    def read_decision(self, folder) -> Optional[dict]:
        path = Path(folder) / THRESHOLDS_FILE
        if not path.is_file():
            return None
        return {"thresholds": list(json.loads(path.read_text(encoding="utf-8")).values())}

    def applied_decision(self, decision, label_names) -> dict:
        """The per-label thresholds of ``thresholds.json`` (tuned on validation when the run had one),
        or 0.5 for every label when none was saved."""
        values = _thresholds(decision)
        names = list(label_names or [])
        if values is None:
            return {"rule": "per-label thresholds", "thresholds": {n: 0.5 for n in names},
                    "source": f"default: no model/{THRESHOLDS_FILE}",
                    "text": f"0.5 for every label (no model/{THRESHOLDS_FILE})"}
        names = names if len(names) == len(values) else [str(i) for i in range(len(values))]
        shown = ", ".join(f"{n} {v:.3g}" for n, v in zip(names, values))
        return {"rule": "per-label thresholds", "thresholds": {n: float(v) for n, v in zip(names, values)},
                "source": f"model/{THRESHOLDS_FILE}",
                "text": f"per-label thresholds from model/{THRESHOLDS_FILE}: {shown}"}


STRATA = 8   # the rarest labels that get a stratum of their own; rows of other labels share one


def rarest_label_key(targets: np.ndarray, strata: int = STRATA) -> Optional[np.ndarray]:
    """One stratum per row for multi-label splits: the row's rarest label (by count in ``targets``)
    when that label is among the ``strata`` rarest, else a shared "common" stratum; rows without a
    label form their own stratum. A stratum of one row joins the largest, so every stratum can be
    split. (A cheap stand-in for iterative stratification: it protects the rare labels, which are
    the ones a random split loses, not every label's exact share.)

    >>> rarest_label_key(np.array([[1, 0], [1, 1], [1, 1], [1, 0], [0, 0], [0, 0]])).tolist()
    [0, 1, 1, 0, -1, -1]
    """
    if targets.ndim != 2 or len(targets) < 4:
        return None
    counts = targets.sum(axis=0)
    ranked = [int(c) for c in np.argsort(counts, kind="stable") if counts[c] > 0][:strata]
    rank = {c: i for i, c in enumerate(ranked)}
    key = np.full(len(targets), -1, dtype=np.int64)        # -1: no label
    for r, row in enumerate(targets > 0.5):
        on = np.flatnonzero(row)
        if len(on):
            rarest = int(on[np.argmin(counts[on])])
            key[r] = rarest if rarest in rank else -2           # -2: a common label
    values, sizes = np.unique(key, return_counts=True)
    for v in values[sizes < 2]:
        key[key == v] = values[np.argmax(sizes)]
    return key


def _thresholds(decision: Optional[dict]):
    return None if not decision else np.asarray(decision["thresholds"], dtype=np.float64)

"""The binary decision threshold: tuned on validation for the monitored metric, applied to test
metrics, intervals and predictions, saved beside the model and read back."""
import json

import numpy as np
import pytest
from sklearn import metrics as skm

from tuneforge.evaluation.threshold import tune_threshold
from tuneforge.recipe.schema import EvaluateSection
from tuneforge.tasks import TASKS

CLS = TASKS.get("text-classification")


def skewed_outputs(n_neg=180, n_pos=20, seed=0):
    """Logits of a model that ranks well but is shy of the rare class: positives score P(pos) ~ 0.3."""
    rng = np.random.default_rng(seed)
    y = np.array([0] * n_neg + [1] * n_pos)
    p = np.where(y == 1, rng.uniform(0.2, 0.45, len(y)), rng.uniform(0.02, 0.3, len(y)))
    return y, np.stack([np.zeros(len(y)), np.log(p / (1 - p))], axis=1)


def test_a_tuned_threshold_improves_validation_and_test_f1():
    y_val, val = skewed_outputs(seed=0)
    y_test, test = skewed_outputs(seed=1)
    d = CLS.fit_decision(y_val, val, "macro_f1", EvaluateSection())
    assert d["metric"] == "macro_f1" and 0.2 <= d["threshold"] < 0.5 and d["why"].startswith("auto")
    assert d["validation"] > d["validation_at_0.5"] + 0.2
    tuned, plain = CLS.compute_metrics(y_test, test, ["neg", "pos"], d), CLS.compute_metrics(y_test, test, ["neg", "pos"])
    assert tuned["macro_f1"] > plain["macro_f1"] + 0.2
    pred = (1 / (1 + np.exp(-test[:, 1])) >= d["threshold"]).astype(int)   # P(pos) with logits [0, z]
    assert tuned["macro_f1"] == pytest.approx(skm.f1_score(y_test, pred, average="macro"))
    assert tuned["per_class"]["pos"]["recall"] == pytest.approx(skm.recall_score(y_test, pred))
    assert tuned["roc_auc"] == plain["roc_auc"] and tuned["log_loss"] == plain["log_loss"]


def test_when_to_tune():
    y, out = skewed_outputs()
    assert CLS.fit_decision(y, out, "macro_f1", EvaluateSection(threshold="argmax")) is None
    balanced_y, balanced = skewed_outputs(n_neg=100, n_pos=100)
    assert CLS.fit_decision(balanced_y, balanced, "macro_f1", EvaluateSection()) is None       # auto, ratio 1
    assert CLS.fit_decision(balanced_y, balanced, "macro_f1", EvaluateSection(threshold="tune")) is not None
    three = np.random.default_rng(0).normal(size=(30, 3))
    assert CLS.fit_decision(np.arange(30) % 3, three, "macro_f1", EvaluateSection(threshold="tune")) is None
    # a metric no threshold changes: tuned for macro_f1 instead, and the decision says so
    assert tune_threshold(y, out, "roc_auc")["metric"] == "macro_f1"
    assert tune_threshold(y, out, "accuracy")["metric"] == "accuracy"


def test_a_useless_threshold_stays_at_one_half():
    y = np.array([0, 0, 0, 0, 1])
    out = np.array([[3.0, -3.0]] * 4 + [[-3.0, 3.0]])   # already perfect at 0.5
    assert tune_threshold(y, out, "macro_f1")["threshold"] == 0.5


def test_intervals_and_predictions_use_the_threshold():
    y, out = skewed_outputs(seed=2)
    d = {"threshold": 0.25, "metric": "macro_f1"}
    stats = CLS.test_statistics(y, out, ["neg", "pos"], EvaluateSection(bootstrap=300), 0, d)
    point = CLS.compute_metrics(y, out, ["neg", "pos"], d)["macro_f1"]
    lo, hi = stats["test_ci"]["macro_f1"]
    assert lo <= point <= hi and lo > CLS.compute_metrics(y, out, ["neg", "pos"])["macro_f1"]
    rows = CLS.predict_rows(out, ["neg", "pos"], d)
    assert [r["label"] == "pos" for r in rows] == [r["probabilities"]["pos"] >= 0.25 for r in rows]


def test_the_threshold_is_saved_beside_the_model_and_read_back(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"id2label": {"0": "neg", "1": "pos"}}))
    CLS.model_files(tmp_path, {"threshold": 0.3, "metric": "macro_f1"})
    saved = json.loads((tmp_path / "threshold.json").read_text())
    assert saved["positive"] == "pos" and saved["threshold"] == 0.3
    assert CLS.read_decision(tmp_path) == {"threshold": 0.3, "metric": "macro_f1"}
    CLS.model_files(tmp_path, None)
    assert CLS.read_decision(tmp_path) is None

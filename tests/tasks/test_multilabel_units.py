"""text-multilabel pieces: label parsing, data loading, thresholds, metrics (against scikit-learn), bootstrap."""
import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit
from sklearn import metrics as skm

from tuneforge.data import load_data
from tuneforge.errors import DataError
from tuneforge.evaluation import multilabel as ml
from tuneforge.recipe.schema import DataSection
from tuneforge.tasks import TASKS
from tuneforge.tasks.multilabel import parse_labels

TASK = TASKS.get("text-multilabel")


def test_parse_labels_accepts_lists_json_and_delimited_text():
    assert parse_labels(["a", "b", "a"]) == ["a", "b"]
    assert parse_labels(np.array(["x"])) == ["x"]
    assert parse_labels("sports | politics") == ["sports", "politics"]
    assert parse_labels("a;b", ";") == ["a", "b"]
    assert parse_labels('["a", "b"]') == ["a", "b"]
    assert parse_labels("[]") == [] and parse_labels([]) == []
    assert parse_labels(None) is None and parse_labels("  ") is None and parse_labels(float("nan")) is None
    assert parse_labels([1, 2.0]) == ["1", "2"]


def test_load_jsonl_lists_and_csv_delimited_give_the_same_matrix(tmp_path):
    rows = [{"text": f"text {i}", "labels": labels} for i, labels in
            enumerate([["a"], ["a", "b"], [], ["c"], ["b", "c"]] * 4)]
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows))
    csv = tmp_path / "t.csv"
    pd.DataFrame({"text": [r["text"] for r in rows],
                  "labels": [";".join(r["labels"]) if r["labels"] else "[]" for r in rows]}).to_csv(csv, index=False)
    a = load_data(DataSection(train=str(jsonl), validation=None, test=None, label_column="labels"), TASK, 0)
    b = load_data(DataSection(train=str(csv), validation=None, test=None, label_column="labels",
                              label_delimiter=";"), TASK, 0)
    assert a.label_names == b.label_names == ["a", "b", "c"]
    assert a.train.targets.dtype == np.float32 and a.train.targets.shape == (20, 3)
    np.testing.assert_array_equal(a.train.targets, b.train.targets)
    assert a.train.targets[:5].tolist() == [[1, 0, 0], [1, 1, 0], [0, 0, 0], [0, 0, 1], [0, 1, 1]]


def test_unknown_label_and_missing_cells(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [{"text": "x", "labels": ["a"]}, {"text": "y", "labels": None},
                                                       {"text": "z", "labels": ["b", "spam"]}]))
    section = DataSection(train=str(path), validation=None, test=None, label_column="labels", labels=["a", "b"])
    with pytest.raises(DataError, match=r"line 3.*label 'spam' is not one of the declared labels"):
        load_data(section, TASK, 0)
    bundle = load_data(section.model_copy(update={"labels": None}), TASK, 0)
    assert bundle.cleaning[0].dropped == {"missing label": 1} and bundle.label_names == ["a", "b", "spam"]


def _example(n=300, labels=4, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, labels)) < [0.5, 0.3, 0.1, 0.02][:labels]).astype(np.float32)
    logits = 2.0 * (y - 0.5) + rng.normal(0, 1.5, size=y.shape)
    return y, logits


def test_metrics_equal_scikit_learn():
    y, logits = _example()
    t = np.array([0.5, 0.4, 0.3, 0.6])
    m = ml.multilabel_metrics(y, logits, ["w", "x", "y", "z"], t)
    pred = (1 / (1 + np.exp(-logits)) >= t).astype(int)
    assert m["micro_f1"] == pytest.approx(skm.f1_score(y, pred, average="micro", zero_division=0))
    assert m["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro", zero_division=0))
    assert m["samples_f1"] == pytest.approx(skm.f1_score(y, pred, average="samples", zero_division=1))
    assert m["subset_accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["hamming_loss"] == pytest.approx(skm.hamming_loss(y, pred))
    has_pos = y.sum(0) > 0
    assert m["map"] == pytest.approx(np.mean([skm.average_precision_score(y[:, c], logits[:, c])
                                              for c in np.flatnonzero(has_pos)]))
    assert m["per_label"]["x"]["precision"] == pytest.approx(skm.precision_score(y[:, 1], pred[:, 1]))
    assert m["per_label"]["x"]["recall"] == pytest.approx(skm.recall_score(y[:, 1], pred[:, 1]))
    assert m["per_label"]["z"]["threshold"] == 0.6 and m["per_label"]["w"]["support"] == int(y[:, 0].sum())


def test_tuned_thresholds_beat_a_half_on_their_split_and_default_without_positives():
    y, logits = _example(seed=1)
    y[:, 3] = 0
    t = ml.tune_thresholds(y, logits - 1.5)           # outputs biased low: the best thresholds move down
    assert t[3] == 0.5
    assert (t[:2] < 0.5).all()   # the frequent labels; the rare one may prefer a high threshold
    tuned = ml.multilabel_metrics(y, logits - 1.5, None, t)["macro_f1"]
    assert tuned > ml.multilabel_metrics(y, logits - 1.5)["macro_f1"]
    for c in range(3):   # each label's threshold is the best of the grid for that label's F1
        probs = 1 / (1 + np.exp(-(logits[:, c] - 1.5)))
        best = max(skm.f1_score(y[:, c], probs >= g, zero_division=0) for g in ml.THRESHOLD_GRID)
        assert skm.f1_score(y[:, c], probs >= t[c], zero_division=0) == pytest.approx(best)


def test_bootstrap_resamples_equal_the_metric_on_repeated_rows():
    y, logits = _example(n=60, seed=2)
    t = np.array([0.5, 0.45, 0.5, 0.5])
    rng = np.random.default_rng(3)
    counts = rng.multinomial(60, np.full(60, 1 / 60), size=3).astype(float)
    probs = 1 / (1 + np.exp(-logits))
    fast = ml.weighted_scores(y, ml.decide(probs, t), probs, counts)
    for b in range(3):
        idx = np.repeat(np.arange(60), counts[b].astype(int))
        plain = ml.multilabel_metrics(y[idx], logits[idx], None, t)
        for name in ml.SCALARS:
            assert fast[name][b] == pytest.approx(plain[name], nan_ok=True), name
    ci = ml.confidence_intervals(y, logits, t, resamples=200, seed=0)
    whole = ml.multilabel_metrics(y, logits, None, t)
    assert all(ci[m][0] <= whole[m] <= ci[m][1] for m in ("micro_f1", "macro_f1", "subset_accuracy"))


def test_baselines_prior_and_one_vs_rest_probe():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    y = np.stack([x[:, 0] > 0, x[:, 1] > 0.5, np.zeros(200, bool)], axis=1).astype(np.float32)
    majority = TASK.majority_baseline(y[:150], y[150:], ["a", "b", "c"])
    assert majority["micro_f1"] == 0.0   # no label is on for most rows: the prior predicts none
    probe = TASK.probe_baseline(x[:150], y[:150], {"test": (x[150:], y[150:])}, ["a", "b", "c"], 0)["test"]
    assert probe["micro_f1"] > 0.9 and probe["per_label"]["c"]["precision"] == 0.0
    assert TASK.probe_kind == "sigmoid"


def test_loss_is_binary_cross_entropy_and_predict_rows_use_thresholds():
    import torch
    out = torch.tensor([[2.0, -1.0]])
    target = torch.tensor([[1.0, 0.0]])
    expected = -(np.log(1 / (1 + np.exp(-2.0))) + np.log(1 - 1 / (1 + np.exp(1.0)))) / 2
    assert TASK.loss(out, target).item() == pytest.approx(expected, rel=1e-5)
    rows = TASK.predict_rows(np.array([[0.0, logit(0.3)]]), ["a", "b"], {"thresholds": [0.6, 0.25]})
    assert rows[0]["labels"] == ["b"] and rows[0]["probabilities"]["a"] == pytest.approx(0.5)


def test_recipe_checks_know_the_multilabel_metrics(tmp_path):
    from tuneforge.recipe import check_recipe
    from tuneforge.errors import RecipeError
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"text": "x", "labels": ["a"]}))
    recipe = {"task": "text-multilabel", "model": {"name": "minilm-l6"},
              "data": {"train": str(path), "label_column": "labels", "labels": ["a", "a"]},
              "evaluate": {"metric": "accuracy"}}
    from tuneforge.recipe import load_recipe
    with pytest.raises(RecipeError) as e:
        check_recipe(load_recipe(recipe))
    text = str(e.value)
    assert "'accuracy' is not a multilabel metric" in text and "micro_f1" in text
    assert "data.labels: a label is listed twice" in text


def test_multilabel_splits_are_stratified_by_each_rows_rarest_label(tmp_path):
    """A label on 6 of 120 rows lands in the held-out split in proportion, for every seed."""
    from tuneforge.data import load_data
    from tuneforge.recipe.schema import DataSection
    from tuneforge.tasks import TASKS
    from tuneforge.tasks.multilabel import rarest_label_key

    rows = [{"text": f"row {i}", "labels": ["common"] + (["rare"] if i % 20 == 0 else [])
             + (["mid"] if i % 3 == 0 else [])} for i in range(120)]
    path = tmp_path / "tags.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    task = TASKS.get("text-multilabel")
    for seed in range(5):
        bundle = load_data(DataSection(train=str(path), label_column="labels", validation=None, test=0.5),
                           task, seed)
        rare = bundle.label_names.index("rare")
        assert bundle.test.targets[:, rare].sum() == 3 and bundle.train.targets[:, rare].sum() == 3
    many = np.eye(12)[np.arange(40) % 12]     # labels 0-3 on 4 rows each, 4-11 on 3: the 8 rarest get strata
    key = rarest_label_key(many)
    assert set(key.tolist()) == {-2, *range(4, 12)} and (key == -2).sum() == 16

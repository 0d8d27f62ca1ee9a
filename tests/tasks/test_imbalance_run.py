"""Class imbalance end to end on a tiny BERT: counts measured and shown, auto picks the weighted loss,
the binary threshold is tuned on validation, saved beside the model and used by predict and evaluate."""
import json

import numpy as np
import pandas as pd
import pytest

import tuneforge
from tuneforge.artefacts.evaluate_run import predict_run

POSITIVE = "good great happy wonderful excellent loved amazing".split()
NEGATIVE = "bad terrible awful sad boring hated cold".split()
FILLER = "the movie film was a day with my friend and it is very".split()


def skewed_reviews(n_neg=200, n_pos=40, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_neg + n_pos):
        positive = i >= n_neg
        words = list(rng.choice(FILLER, size=5)) + [rng.choice(POSITIVE if positive else NEGATIVE)]
        rng.shuffle(words)
        rows.append({"text": " ".join(words) + f" {i}", "label": "positive" if positive else "negative"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def skewed_run(bert_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("skewed")
    skewed_reviews().to_csv(folder / "reviews.csv", index=False)
    recipe = {"task": "text-classification", "model": {"name": str(bert_dir)},
              "data": {"train": str(folder / "reviews.csv"), "validation": 0.25, "test": 0.25, "max_length": 16},
              "optimizer": {"lr": 3e-3}, "train": {"epochs": 4, "batch_size": 16, "seed": 0},
              "evaluate": {"bootstrap": 100, "explain": 0},
              "output": {"dir": str(folder / "runs")}}
    return tuneforge.finetune(recipe), folder / "reviews.csv"


def test_class_counts_are_measured_per_split(skewed_run):
    run, _ = skewed_run
    counts = run.metrics["data"]["class_counts"]
    assert set(counts) == {"train", "validation", "test"}
    for split, size in run.metrics["data"]["sizes"].items():
        assert sum(counts[split].values()) == size
    assert counts["train"]["negative"] == 5 * counts["train"]["positive"]   # stratified hold-out keeps 5:1


def test_auto_weights_the_loss_and_says_so(skewed_run):
    run, _ = skewed_run
    b = run.metrics["class_balance"]
    assert b["choice"] == "weights" and b["reason"] == "auto: largest/smallest class 5.0 > 3"
    assert b["weights"] == pytest.approx([0.6, 3.0])
    plan = json.loads((run.run_dir / "plan.json").read_text())
    assert plan[0]["class_balance"]["choice"] == "weights"
    assert run.metrics["monitor"] == "macro_f1" and run.metrics["columns"]["leaderboard"][1] == "macro_f1"
    # the weighted model does not collapse onto the majority class (the unweighted one does at this lr)
    assert run.metrics["test"]["per_class"]["positive"]["recall"] > 0.3
    assert run.metrics["test"]["macro_f1"] > run.metrics["baseline_majority"]["macro_f1"] + 0.2


def test_the_threshold_is_tuned_saved_and_used(skewed_run, tmp_path):
    run, data = skewed_run
    d = run.metrics["decision"]
    assert d["metric"] == "macro_f1" and 0.0 < d["threshold"] < 1.0 and d["validation"] >= d["validation_at_0.5"]
    saved = json.loads((run.run_dir / "model" / "threshold.json").read_text())
    assert saved["positive"] == "positive" and saved["threshold"] == d["threshold"]
    texts = ["the movie was a day with wonderful", "it is very cold", "the film my friend and a day"]
    for row in predict_run(run.run_dir, texts):
        assert row["label"] == ("positive" if row["probabilities"]["positive"] >= d["threshold"] else "negative")
    from rich.console import Console

    from tuneforge.artefacts.evaluate_run import evaluate_run
    again = evaluate_run(run.run_dir, data, Console(quiet=True), resamples=20)
    assert again["test"]["per_class"]["positive"]["support"] == 40


def test_evaluate_records_and_prints_the_threshold_it_applied(skewed_run, tmp_path):
    import shutil

    from rich.console import Console

    from tuneforge.artefacts.evaluate_run import evaluate_run
    run, data = skewed_run
    threshold = run.metrics["decision"]["threshold"]
    console = Console(record=True, width=200)
    result = evaluate_run(run.run_dir, data, console, resamples=0)
    assert result["decision"] == {"rule": "threshold", "positive": "positive", "threshold": threshold,
                                  "metric": "macro_f1", "source": "model/threshold.json",
                                  "text": f"P(positive) >= {threshold:.4g} (model/threshold.json, tuned on "
                                          "validation for macro_f1)"}
    written = sorted((run.run_dir / "evaluations").glob("reviews-*.json"))[-1]
    assert json.loads(written.read_text())["decision"] == result["decision"]
    assert f"decision P(positive) >= {threshold:.4g} (model/threshold.json" in console.export_text()
    # the same model without its threshold file decides by argmax, and says so
    bare = tmp_path / "bare"
    shutil.copytree(run.run_dir, bare)
    (bare / "model" / "threshold.json").unlink()
    console = Console(record=True, width=200)
    plain = evaluate_run(bare, data, console, resamples=0)
    assert plain["decision"]["rule"] == "argmax" and "threshold" not in plain["decision"]
    assert plain["decision"]["source"] == "default: no model/threshold.json"
    assert "decision argmax, the most probable class" in console.export_text()
    if abs(threshold - 0.5) > 0.02:   # a threshold away from 0.5 decides some examples differently
        assert plain["test"]["per_class"] != result["test"]["per_class"]


def test_report_shows_counts_balance_and_per_class_scores(skewed_run):
    from tuneforge.report import build_run_report

    run, _ = skewed_run
    html = build_run_report(run.run_dir)
    assert "Examples per class" in html and "class balance: weights" in html and "decision threshold" in html
    assert "Test split in detail" in html and set(run.metrics["test"]["per_class"]) == {"negative", "positive"}

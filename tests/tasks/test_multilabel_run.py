"""text-multilabel end to end on a tiny BERT: it learns, tunes thresholds, saves a folder transformers loads."""
import json

import numpy as np
import pytest
import torch

import tuneforge
from tuneforge.cli import main


@pytest.fixture(scope="module")
def ml_run(bert_dir, multilabel_jsonl, tmp_path_factory):
    recipe = {"task": "text-multilabel", "model": {"name": str(bert_dir)},
              "data": {"train": str(multilabel_jsonl), "validation": 0.2, "test": 0.2, "max_length": 16,
                       "label_column": "labels", "max_train_samples": 100},
              "optimizer": {"lr": 1e-2}, "scheduler": {"name": "linear", "warmup": 0.1},
              "train": {"epochs": 8, "batch_size": 16, "seed": 1},
              "evaluate": {"bootstrap": 200},
              "output": {"dir": str(tmp_path_factory.mktemp("runs"))}}
    return tuneforge.finetune(recipe)


def test_it_learns_and_reports_multilabel_metrics(ml_run):
    m = ml_run.metrics
    assert m["monitor"] == "micro_f1" and m["data"]["label_names"] == ["politics", "sports", "weather"]
    assert {"micro_f1", "macro_f1", "samples_f1", "subset_accuracy", "map", "hamming_loss", "per_label"} <= set(m["test"])
    assert set(m["test"]["per_label"]) == {"politics", "sports", "weather"}
    history = [json.loads(line) for line in (ml_run.run_dir / "history.jsonl").read_text().splitlines()]
    losses = [h["train_loss"] for h in history if h["train_loss"] is not None]   # (step 0: the solved head)
    assert losses[-1] < losses[0] - 0.1
    assert m["test"]["micro_f1"] > 0.6 > m["baseline_majority"]["micro_f1"]
    assert m["baseline"]["micro_f1"] > 0.6   # the one-vs-rest probe on frozen features
    lo, hi = m["test_ci"]["micro_f1"]
    assert lo <= m["test"]["micro_f1"] <= hi
    assert m["columns"]["leaderboard"] == ["micro_f1", "macro_f1", "map"]


def test_thresholds_are_tuned_saved_and_used(ml_run):
    thresholds = ml_run.metrics["decision"]["thresholds"]
    assert len(thresholds) == 3 and all(0.0 < t < 1.0 for t in thresholds)
    saved = json.loads((ml_run.run_dir / "model" / "thresholds.json").read_text())
    assert saved == dict(zip(["politics", "sports", "weather"], thresholds))
    assert [v["threshold"] for v in ml_run.metrics["test"]["per_label"].values()] == thresholds


def test_saved_model_loads_in_transformers_as_multilabel(ml_run):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = ml_run.run_dir / "model"
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    assert model.config.problem_type == "multi_label_classification"
    assert model.config.id2label == {0: "politics", 1: "sports", 2: "weather"}
    tok = AutoTokenizer.from_pretrained(folder)
    texts = ["rain and cold wind", "play the game in the field"]
    with torch.no_grad():
        probs = torch.sigmoid(model(**tok(texts, return_tensors="pt", padding=True)).logits).numpy()
    ours = ml_run.predict(texts)
    np.testing.assert_allclose(probs, [[p["probabilities"][n] for n in ("politics", "sports", "weather")]
                                       for p in ours], atol=1e-5)
    thresholds = json.loads((folder / "thresholds.json").read_text())
    for p in ours:
        assert p["labels"] == [n for n, v in p["probabilities"].items() if v >= thresholds[n]]


def test_predict_command_reads_the_thresholds(ml_run, capsys):
    main(["predict", str(ml_run.run_dir), "rain and cold wind"])
    out = capsys.readouterr().out
    assert "weather" in out


def test_evaluate_on_new_data_uses_the_saved_thresholds(ml_run, multilabel_jsonl):
    from rich.console import Console

    from tuneforge.artefacts.evaluate_run import evaluate_run

    console = Console(record=True, width=200)
    result = evaluate_run(ml_run.run_dir, multilabel_jsonl, console, resamples=50)
    thresholds = json.loads((ml_run.run_dir / "model" / "thresholds.json").read_text())
    assert {k: v["threshold"] for k, v in result["test"]["per_label"].items()} == thresholds
    # which thresholds it applied, and where they came from, are in its JSON and on the terminal
    assert result["decision"]["rule"] == "per-label thresholds" and result["decision"]["thresholds"] == thresholds
    assert result["decision"]["source"] == "model/thresholds.json"
    written = sorted((ml_run.run_dir / "evaluations").glob("*.json"))[-1]
    assert json.loads(written.read_text())["decision"]["thresholds"] == thresholds
    shown = " ".join(console.export_text().split())
    assert "decision per-label thresholds from model/thresholds.json: " + \
        ", ".join(f"{k} {v:.3g}" for k, v in thresholds.items()) in shown
    assert result["examples"] == 240 and result["test"]["micro_f1"] > 0.6
    lo, hi = result["test_ci"]["micro_f1"]
    assert lo <= result["test"]["micro_f1"] <= hi


def test_report_shows_the_tasks_metrics_and_per_label_table(ml_run):
    from tuneforge.report import build_run_report

    html = build_run_report(ml_run.run_dir)
    assert "Test split per label" in html and "subset_accuracy" in html and "confusion matrix" not in html


def test_evaluate_without_saved_thresholds_records_the_default(ml_run, multilabel_jsonl, tmp_path):
    import shutil

    from rich.console import Console

    from tuneforge.artefacts.evaluate_run import evaluate_run

    bare = tmp_path / "bare"
    shutil.copytree(ml_run.run_dir, bare)
    (bare / "model" / "thresholds.json").unlink()
    result = evaluate_run(bare, multilabel_jsonl, Console(quiet=True), resamples=0)
    assert result["decision"]["thresholds"] == {"politics": 0.5, "sports": 0.5, "weather": 0.5}
    assert result["decision"]["source"] == "default: no model/thresholds.json"
    assert all(v["threshold"] == 0.5 for v in result["test"]["per_label"].values())

"""End-to-end text runs on a tiny BERT: the run folder, metrics, reload, repeatability, predict."""
import json

import numpy as np
import pytest
import torch
import yaml

import tuneforge
from tuneforge.cli import main

from runs.conftest import text_recipe


@pytest.fixture(scope="module")
def text_run(bert_dir, text_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return tuneforge.finetune(text_recipe(bert_dir, text_csv, out))


def test_run_folder_contents(text_run):
    d = text_run.run_dir
    for name in ["recipe.yaml", "metrics.json", "history.jsonl", "plan.json", "status.json", "model"]:
        assert (d / name).exists(), name
    assert json.loads((d / "status.json").read_text())["state"] == "completed"
    history = [json.loads(l) for l in (d / "history.jsonl").read_text().splitlines()]
    assert len(history) == 5                        # the solved head at step 0, then one per epoch
    assert history[0]["step"] == 0 and history[0]["train_loss"] is None
    assert {"train_loss", "validation", "lr"} <= set(history[1])
    assert set(history[1]["lr"]) == {"embeddings", "encoder.layer.0", "encoder.layer.1", "head"}


def test_metrics_have_promised_keys_and_learned(text_run):
    m = text_run.metrics
    assert {"task", "model", "strategy", "test", "validation", "baseline", "train"} <= set(m)
    assert {"seconds", "samples_per_second", "trainable_parameters", "total_parameters",
            "peak_memory_mb"} <= set(m["train"])
    assert {"accuracy", "macro_precision", "macro_recall", "macro_f1", "per_class",
            "confusion_matrix"} <= set(m["test"])
    assert m["test"]["accuracy"] >= 0.9  # the toy task is learnable
    assert m["baseline"] and "accuracy" in m["baseline"]
    assert json.loads((text_run.run_dir / "metrics.json").read_text())["test"] == m["test"]
    assert m["train"]["trainable_parameters"] == m["train"]["total_parameters"]
    # one process trained it, and metrics.json says so (a torchrun run says 2: tests/reliability/test_ddp.py)
    assert m["distributed"] == {"processes": 1, "type": "NO", "backend": None, "launcher": None}


def test_saved_model_reloads_in_transformers_with_same_predictions(text_run):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = text_run.run_dir / "model"
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tok = AutoTokenizer.from_pretrained(folder)
    assert model.config.id2label == {0: "negative", 1: "positive"}
    texts = ["a great and wonderful day", "a terrible boring film"]
    with torch.no_grad():
        probs = torch.softmax(model(**tok(texts, return_tensors="pt", padding=True)).logits, -1).numpy()
    ours = text_run.predict(texts)
    assert [p["label"] for p in ours] == ["positive", "negative"]
    np.testing.assert_allclose(probs, [[p["probabilities"]["negative"], p["probabilities"]["positive"]]
                                       for p in ours], atol=1e-5)


def test_same_seed_same_metrics_and_recipe_repeats(text_run):
    again = tuneforge.finetune(text_run.run_dir / "recipe.yaml")
    assert again.run_dir != text_run.run_dir
    assert again.metrics["test"] == text_run.metrics["test"]
    assert again.metrics["validation"] == text_run.metrics["validation"]


def test_cli_run_with_overrides(bert_dir, text_csv, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(text_recipe(bert_dir, text_csv, tmp_path / "runs")))
    assert main(["run", str(recipe), "train.epochs=1", "strategy.name=linear-probe", "--quiet"]) == 0
    (run,) = (tmp_path / "runs").iterdir()
    saved = yaml.safe_load((run / "recipe.yaml").read_text())
    assert saved["train"]["epochs"] == 1 and saved["strategy"]["name"] == "linear-probe"
    m = json.loads((run / "metrics.json").read_text())
    assert m["train"]["trainable_parameters"] < m["train"]["total_parameters"]


def test_in_memory_table_is_saved_for_repeats(bert_dir, tmp_path):
    from runs.conftest import sentiment_table

    df = sentiment_table(80)
    r = tuneforge.finetune(text_recipe(bert_dir, "unused", tmp_path, **{"data.train": df, "train.epochs": 1}))
    saved = yaml.safe_load((r.run_dir / "recipe.yaml").read_text())
    assert saved["data"]["train"].endswith("data/train.parquet")
    assert (r.run_dir / "data" / "train.parquet").is_file()


def test_text_regression_reports_original_units(bert_dir, text_csv, tmp_path):
    r = tuneforge.finetune(text_recipe(bert_dir, text_csv, tmp_path, task="text-regression",
                                       **{"data.label_column": "score", "train.epochs": 6}))
    assert {"mse", "mae", "r2"} <= set(r.metrics["test"])
    assert r.metrics["test"]["r2"] > 0.5
    preds = [p["value"] for p in r.predict(["a great wonderful happy day", "a terrible awful war"])]
    assert preds[0] > 11.0 and preds[1] < 10.0   # targets are ~12 and ~9 in original units
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    m = AutoModelForSequenceClassification.from_pretrained(r.run_dir / "model").eval()
    tok = AutoTokenizer.from_pretrained(r.run_dir / "model")
    with torch.no_grad():
        out = m(**tok(["a great wonderful happy day"], return_tensors="pt")).logits.item()
    assert out == pytest.approx(preds[0], abs=1e-4)

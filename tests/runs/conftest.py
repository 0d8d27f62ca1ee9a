"""Shared tiny models and data for end-to-end runs (built once per session)."""
import numpy as np
import pandas as pd
import pytest

from helpers.tiny import tiny_timm_cnn

POSITIVE = "good great happy wonderful excellent loved amazing best fine".split()
NEGATIVE = "bad terrible awful sad boring hated war cold dark".split()
FILLER = "the movie film was a day with my friend and it is very".split()


def sentiment_table(n=240, seed=0) -> pd.DataFrame:
    """A learnable toy text task: the label is which word list a text draws from; `score` is a number."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = ["negative", "positive"][i % 2]
        words = list(rng.choice(FILLER, size=rng.integers(3, 9))) + list(
            rng.choice(POSITIVE if label == "positive" else NEGATIVE, size=2))
        rng.shuffle(words)
        rows.append({"text": " ".join(words), "label": label,
                     "score": (2.0 if label == "positive" else -1.0) + 0.1 * rng.normal() + 10.0})
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def cnn_weights(tmp_path_factory):
    return tiny_timm_cnn(tmp_path_factory.mktemp("tiny-cnn"))


@pytest.fixture(scope="session")
def text_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "reviews.csv"
    sentiment_table().to_csv(path, index=False)
    return path


def text_recipe(bert_dir, text_csv, out, **over):
    r = {"task": "text-classification", "model": {"name": str(bert_dir)},
         "data": {"train": str(text_csv), "validation": 0.2, "test": 0.2, "max_length": 32},
         "optimizer": {"lr": 3e-3}, "scheduler": {"name": "linear", "warmup": 0.1},
         "train": {"epochs": 4, "batch_size": 16, "seed": 1},
         "output": {"dir": str(out)}}
    for k, v in over.items():
        node = r
        *head, last = k.split(".")
        for h in head:
            node = node.setdefault(h, {})
        node[last] = v
    return r

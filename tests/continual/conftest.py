"""A learnable four-topic text set and a two-task continual recipe on the tiny BERT."""
import numpy as np
import pandas as pd
import pytest

TOPICS = {"sports": "ball game team goal run play win".split(),
          "food": "eat bread fish food plant warm cook".split(),
          "music": "song sing music sound listen play voice".split(),
          "weather": "rain cold sun wind north warm air".split()}
FILLER = "the a was and it is very with my day".split()


def topic_table(n=160, seed=0) -> pd.DataFrame:
    """The label is the topic whose words a text draws from (two of them per text, among filler)."""
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    rows = []
    for i in range(n):
        label = names[i % len(names)]
        words = list(rng.choice(FILLER, size=rng.integers(2, 6))) + list(rng.choice(TOPICS[label], size=2))
        rng.shuffle(words)
        rows.append({"text": " ".join(words), "label": label})
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def topics_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("topics") / "topics.csv"
    topic_table().to_csv(path, index=False)
    return path


def continual_recipe(bert_dir, csv, out, **over) -> dict:
    """Two class-incremental tasks (sports/food, then music/weather), 2 epochs of 3 steps each,
    checkpoints every 2 steps; no baseline, bootstrap, explanations or report (speed)."""
    r = {"task": "text-classification", "model": {"name": str(bert_dir)},
         "data": {"train": str(csv), "validation": 0.2, "test": 0.2, "max_length": 16},
         "tasks": [{"name": "a", "classes": ["sports", "food"]}, {"name": "b", "classes": ["music", "weather"]}],
         "optimizer": {"lr": 3e-3}, "scheduler": {"name": "linear", "warmup": 0.1},
         "evaluate": {"baseline": False, "bootstrap": 0, "explain": 0, "report": False},
         "train": {"epochs": 2, "batch_size": 16, "seed": 1, "save_every_steps": 2, "restore_best": False},
         "output": {"dir": str(out)}}
    for key, value in over.items():
        node = r
        *head, last = key.split(".")
        for h in head:
            node = node.setdefault(h, {})
        node[last] = value
    return r

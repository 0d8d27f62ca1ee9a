"""A small synthetic multi-label text set: each text carries the labels whose words it contains."""
import json

import numpy as np
import pytest

WORDS = {"sports": "game play run field".split(), "politics": "govern state country rule".split(),
         "weather": "rain cold wind sun".split()}   # words of the tiny BERT's vocabulary
FILLER = "the a day new about and it was very".split()


def multilabel_rows(n=240, seed=0) -> list[dict]:
    """Rows ``{"text", "labels"}``; about a quarter have two labels, one in twelve none."""
    rng = np.random.default_rng(seed)
    names = list(WORDS)
    rows = []
    for i in range(n):
        k = [0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1][i % 12]
        labels = sorted(rng.choice(names, size=k, replace=False).tolist()) if k else []
        words = list(rng.choice(FILLER, size=rng.integers(3, 7)))
        for label in labels:
            words += list(rng.choice(WORDS[label], size=2))
        rng.shuffle(words)
        rows.append({"text": " ".join(words) + f" {i}", "labels": labels})
    return rows


@pytest.fixture(scope="session")
def multilabel_jsonl(tmp_path_factory):
    path = tmp_path_factory.mktemp("ml") / "tags.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in multilabel_rows()) + "\n", encoding="utf-8")
    return path

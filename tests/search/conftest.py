"""A tiny text task and recipe for search tests: each trial takes about a second."""
import pytest

from runs.conftest import sentiment_table


@pytest.fixture(scope="session")
def search_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("search-data") / "reviews.csv"
    sentiment_table(n=240).to_csv(path, index=False)
    return path


def search_recipe(bert_dir, csv, out, search=None, **over):
    """A tiny recipe whose trials differ by learning rate: 3e-2 learns the task, 1e-6 does not."""
    r = {"task": "text-classification", "model": {"name": str(bert_dir)}, "name": "tiny-study",
         "data": {"train": str(csv), "validation": 0.25, "test": 0.25, "max_length": 24},
         "strategy": {"name": "full", "warm_head": False},
         "train": {"epochs": 3, "batch_size": 16, "seed": 1},
         "scheduler": {"warmup": 0.0},
         "evaluate": {"bootstrap": 50, "explain": 0},
         "output": {"dir": str(out)},
         "search": search if search is not None else {"optimizer.lr": {"choice": [3e-2, 1e-6]}, "trials": 3, "seed": 5,
                                                      "startup_trials": 1}}
    for k, v in over.items():
        node = r
        *head, last = k.split(".")
        for h in head:
            node = node.setdefault(h, {})
        node[last] = v
    return r


@pytest.fixture(scope="session")
def postgres_url():
    from search.postgres import start_postgres

    url, stop = start_postgres()
    yield url
    stop()

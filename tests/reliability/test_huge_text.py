"""A single 10 MB text does not crash a run: it is truncated to ``data.max_length`` tokens like any
other long text (the documented behaviour), and the run completes. Generated here, never committed."""
import json

import numpy as np

from tuneforge.cli import main

from reliability.conftest import only_run, small_recipe, write_recipe
from runs.conftest import sentiment_table


def test_ten_megabyte_text_is_truncated_not_fatal(bert_dir, tmp_path):
    df = sentiment_table(48, seed=5)
    words = np.array("good bad film day the".split())
    df.loc[0, "text"] = " ".join(words[np.random.default_rng(0).integers(0, len(words), 2_600_000)])
    assert len(df.loc[0, "text"].encode()) > 10 * 2**20
    csv = tmp_path / "huge.csv"
    df.to_csv(csv, index=False)
    recipe = small_recipe(bert_dir, csv, tmp_path / "runs", **{"strategy": {"name": "full"}, "train.max_steps": 1,
                                                               "train.save_every_steps": None})
    assert main(["run", str(write_recipe(tmp_path / "r.yaml", recipe)), "--quiet"]) == 0
    metrics = json.loads((only_run(tmp_path / "runs") / "metrics.json").read_text())
    assert metrics["train"]["steps"] == 1

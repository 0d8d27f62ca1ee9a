"""`tuneforge compare` on a tiny model: identical splits, a leaderboard with every field, a report;
and `--folds` cross-validation."""
import json

import numpy as np
import pytest
import yaml

from tuneforge.cli import main

from report.conftest import console_errors, render
from runs.conftest import text_recipe

ROW_FIELDS = {"strategy", "run_dir", "test", "test_ci", "retention", "train_seconds", "peak_memory_mb",
              "trainable_parameters", "total_parameters", "vs_best"}


def _recipe(bert_dir, text_csv, tmp_path, **over):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(text_recipe(bert_dir, text_csv, tmp_path / "out", **{
        "train.epochs": 2, "evaluate.bootstrap": 100, "evaluate.explain": 0, "evaluate.baseline": False,
        "evaluate.retention": {"probe_size": 20}, **over})))
    return path


def test_compare_writes_a_full_leaderboard_on_identical_splits(bert_dir, text_csv, tmp_path, capsys):
    recipe = _recipe(bert_dir, text_csv, tmp_path)
    assert main(["compare", str(recipe), "--strategies", "linear-probe,full", "--quiet"]) == 0
    (folder,) = (tmp_path / "out").glob("compare-*")
    board = json.loads((folder / "leaderboard.json").read_text())
    assert [r["strategy"] for r in board["rows"]] != [] and len(board["rows"]) == 2
    for row in board["rows"]:
        assert ROW_FIELDS <= set(row)
        assert row["test_ci"]["accuracy"][0] <= row["test_ci"]["accuracy"][1]
        assert row["retention"] is not None
    best, other = board["rows"]
    assert best["vs_best"] is None and {"difference", "p_value", "significant", "method"} <= set(other["vs_best"])
    assert other["trainable_parameters"] < other["total_parameters"] or best["trainable_parameters"] < \
        best["total_parameters"]
    targets = [np.load(f"{r['run_dir']}/test_outputs.npz")["targets"] for r in board["rows"]]
    assert (targets[0] == targets[1]).all()                      # the same test examples
    assert "leaderboard" in capsys.readouterr().out
    dom, log = render(folder / "report.html")
    assert dom.count("<img") >= 2 and "Leaderboard" in dom and console_errors(log) == []


def test_unknown_strategy_is_a_user_error_and_leaves_no_folder(bert_dir, text_csv, tmp_path, capsys):
    recipe = _recipe(bert_dir, text_csv, tmp_path)
    assert main(["compare", str(recipe), "--strategies", "full,lienar-probe"]) == 2
    assert "lienar-probe" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_run_with_folds_trains_each_fold_and_summarises(bert_dir, text_csv, tmp_path):
    recipe = _recipe(bert_dir, text_csv, tmp_path, **{"train.epochs": 1, "evaluate.retention": None,
                                                       "strategy.name": "linear-probe"})
    assert main(["run", str(recipe), "--folds", "2", "--quiet"]) == 0
    (parent,) = (tmp_path / "out").iterdir()
    m = json.loads((parent / "metrics.json").read_text())
    assert m["k"] == 2 and len(m["folds"]["accuracy"]["values"]) == 2
    assert {"mean", "std", "values"} == set(m["folds"]["accuracy"])
    sizes = [f["data"]["sizes"]["test"] for f in m["per_fold"]]
    assert sum(sizes) == 240 and (parent / "fold-1" / "report.html").is_file() and (parent / "report.html").is_file()


def test_strategy_specs_carry_options():
    from tuneforge.errors import RecipeError
    from tuneforge.modes.compare import parse_strategy_spec

    assert parse_strategy_spec("freeze:top_blocks=2") == ("freeze", {"top_blocks": 2})
    assert parse_strategy_spec("lora:r=4:alpha=8") == ("lora", {"r": 4, "alpha": 8})
    assert parse_strategy_spec("full") == ("full", {})
    with pytest.raises(RecipeError, match="name:key=value"):
        parse_strategy_spec("freeze:top_blocks")

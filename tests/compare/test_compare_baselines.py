"""The compare leaderboard shows the baselines as rows and marks every strategy that does not beat them."""
import json

import numpy as np
import pytest
import yaml

from tuneforge.cli import main
from tuneforge.recipe.schema import EvaluateSection
from tuneforge.modes.compare import baseline_warnings, leaderboard_cells, leaderboard_header
from tuneforge.modes.compare_baselines import baseline_detail, display_rows, mark_rows, reference_rows

from runs.conftest import text_recipe


def test_when_every_strategy_loses_to_the_baseline_the_leaderboard_says_so(bert_dir, text_csv, tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(text_recipe(bert_dir, text_csv, tmp_path / "out", **{
        "train.epochs": 1, "optimizer.lr": 1e-9, "evaluate.bootstrap": 200, "evaluate.explain": 0})))
    # a random head that never moves (lr 1e-9, no solved warm start) loses to the frozen baseline
    strategies = "linear-probe:warm_head=false,full:warm_head=false"
    assert main(["compare", str(recipe), "--strategies", strategies]) == 0
    out = " ".join(capsys.readouterr().out.split())
    (folder,) = (tmp_path / "out").glob("compare-*")
    board = json.loads((folder / "leaderboard.json").read_text())
    refs = {r["reference"]: r for r in board["reference_rows"]}
    assert set(refs) == {"probe", "majority"}
    assert refs["probe"]["test"]["macro_f1"] == board["baseline"]["macro_f1"]
    lo, hi = refs["probe"]["test_ci"]["macro_f1"]
    assert lo <= refs["probe"]["test"]["macro_f1"] <= hi
    for row in board["rows"]:
        assert row["beats_baseline"] is False and row["vs_baseline"]["worse"]
        assert row["vs_baseline"]["against"] == "frozen baseline (linear probe)"
    assert board["none_beats_baseline"] is True
    assert "✗ no strategy beats frozen baseline (linear probe)" in out and "full:warm_head=false ✗" in out
    assert "frozen baseline (linear probe)" in out and "majority / mean predictor" in out
    # without evaluate.retention the column is the default measure, not "-": bodies that did not move keep CKA 1
    assert all(row["retention"] == pytest.approx(1.0, abs=1e-3) for row in board["rows"])
    assert board["retention_measure"].startswith("linear CKA of the pooled features") and "retention linear CKA" in out
    html = (folder / "report.html").read_text()
    assert "Retention: linear CKA" in html
    assert "Does anything beat the baseline?" in html and "✗ worse" in html and "majority / mean predictor" in html


def _board(rows, refs, greater=True):
    return {"kind": "classification", "metric": "accuracy", "greater_is_better": greater, "confidence": 0.95,
            "folds": None, "rows": rows, "reference_rows": refs}


def _row(name, acc, vs=None, beats=None):
    return {"strategy": name, "test": {"accuracy": acc}, "test_ci": None, "test_std": None, "vs_best": None,
            "vs_baseline": vs, "beats_baseline": beats, "retention": None, "train_seconds": 1.0,
            "peak_memory_mb": 1.0, "trainable_parameters": 1, "total_parameters": 2}


def test_reference_rows_take_their_ranked_place_and_marks_say_beats_or_not():
    better = {"difference": 0.1, "p_value": 0.001, "better": True, "worse": False, "against": "x"}
    same = {"difference": 0.01, "p_value": 0.4, "better": False, "worse": False, "against": "x"}
    rows = [_row("full", 0.9, better, True), _row("freeze", 0.81, same, False)]
    refs = [{"strategy": "probe", "reference": "probe", "test": {"accuracy": 0.8}, "test_ci": None, "test_std": None},
            {"strategy": "majority", "reference": "majority", "test": {"accuracy": 0.5}, "test_ci": None,
             "test_std": None}]
    board = _board(rows, refs)
    assert [r["strategy"] for r in display_rows(board)] == ["full", "freeze", "probe", "majority"]
    rows[1]["test"]["accuracy"] = 0.7
    assert [r["strategy"] for r in display_rows(board)] == ["full", "probe", "freeze", "majority"]
    assert baseline_detail(rows[0]).startswith("✓ +0.1000") and baseline_detail(rows[1]).startswith("✗ +0.0100")
    assert leaderboard_cells(board, rows[0])[0] == "full" and leaderboard_cells(board, rows[1])[0] == "freeze ✗"
    assert len(leaderboard_cells(board, refs[0])) == len(leaderboard_header(board))
    assert len(leaderboard_cells(board, rows[0])) == len(leaderboard_header(board))
    (warning,) = baseline_warnings({**board, "none_beats_baseline": False})
    assert warning.startswith("✗ 1 of 2 strategies") and "freeze" in warning
    rows[1].update(beats_baseline=True)
    assert baseline_warnings({**board, "none_beats_baseline": False}) == []


def test_with_folds_the_mark_is_a_paired_t_test_and_references_are_fold_means():
    folds = [{"baseline": {"accuracy": b}, "baseline_majority": {"accuracy": 0.5}} for b in (0.80, 0.82, 0.81)]
    results = {"good": {"per_fold": folds}, "bad": {"per_fold": folds}}
    rows = [{"strategy": "good", "test_folds": {"accuracy": [0.90, 0.93, 0.91]}},
            {"strategy": "bad", "test_folds": {"accuracy": [0.70, 0.71, 0.69]}}]
    mark_rows(rows, results, "classification", "accuracy", True, EvaluateSection(), 0)
    assert rows[0]["beats_baseline"] is True and rows[0]["vs_baseline"]["method"] == "paired t-test across 3 folds"
    assert rows[1]["beats_baseline"] is False and rows[1]["vs_baseline"]["worse"]
    refs = reference_rows(results, "classification", EvaluateSection(), 0)
    assert [r["reference"] for r in refs] == ["probe", "majority"]
    assert np.isclose(refs[0]["test"]["accuracy"], 0.81) and np.isclose(refs[0]["test_std"]["accuracy"], 0.01)

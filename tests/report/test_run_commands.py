"""`tuneforge evaluate` and `tuneforge predict` on a finished run."""
import json

from tuneforge.cli import main


def test_evaluate_writes_metrics_with_intervals(full_run, text_csv, capsys):
    assert main(["evaluate", str(full_run.run_dir), "--data", str(text_csv), "--bootstrap", "100"]) == 0
    (written,) = (full_run.run_dir / "evaluations").glob("*.json")
    result = json.loads(written.read_text())
    assert result["examples"] == 240 and result["test"]["accuracy"] >= 0.9
    assert set(result["test_ci"]) >= {"accuracy", "macro_f1", "roc_auc"}
    assert "accuracy" in capsys.readouterr().out


def test_predict_prints_labels_with_probabilities(full_run, capsys):
    assert main(["predict", str(full_run.run_dir), "great wonderful day", "terrible awful war"]) == 0
    out = capsys.readouterr().out
    assert "positive" in out and "negative" in out and "0." in out


def test_evaluate_on_a_folder_that_is_not_a_run_exits_2(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path), "--data", "x.csv"]) == 2
    assert "not a run folder" in capsys.readouterr().err

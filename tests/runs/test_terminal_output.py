"""What a run prints at 80 columns: evaluation lines wrap only between metrics, the run-folder path
stays whole, the regression summary has MSE, ``predict`` has no empty probabilities column for
regression, the report's peak memory is whole megabytes, and the Python API shows progress unless
``quiet=True``."""
import re

import pytest
from rich.console import Console

import tuneforge
from tuneforge.cli import main
from tuneforge.recipe import load_recipe
from tuneforge.runs.pipeline import run
from tuneforge.terminal import pack_segments

from runs.conftest import text_recipe

METRIC_PAIR = re.compile(r"\b(mae|mse|rmse|r2|loss)\b(?! \S*\d)")  # a metric name not followed by its number


@pytest.fixture(scope="module")
def regression_run(bert_dir, text_csv, tmp_path_factory):
    """A one-epoch text-regression run printed at 80 columns, into a folder whose path is long."""
    out = tmp_path_factory.mktemp("terminal") / ("a-deliberately-long-folder-name-" * 3).rstrip("-")
    recipe = text_recipe(bert_dir, text_csv, out, **{
        "task": "text-regression", "data.label_column": "score", "train.epochs": 2, "train.batch_size": 32,
        "evaluate.bootstrap": 0, "evaluate.explain": 0, "evaluate.baseline": False, "evaluate.report": True})
    console = Console(width=80, record=True, force_terminal=False)
    result = run(load_recipe(recipe), console, quiet=False)
    return result, console.export_text(styles=False)


def test_lines_fit_80_columns_and_metrics_stay_whole(regression_run):
    result, text = regression_run
    evaluations = [line for line in text.splitlines() if line.startswith("epoch ") or line.startswith("    ")]
    assert evaluations, text
    for line in evaluations:
        assert len(line) <= 80, line
        assert not METRIC_PAIR.search(line.replace("train loss -", "")), line


def test_run_folder_path_is_printed_whole(regression_run):
    result, text = regression_run
    assert len(str(result.run_dir)) > 80
    assert f"run folder: {result.run_dir}" in text.splitlines()


def test_regression_summary_shows_mse(regression_run):
    result, text = regression_run
    header = next(line for line in text.splitlines() if "mae" in line and "rmse" in line)
    assert re.search(r"\bmse\b", header)


def test_predict_regression_has_no_probabilities_column(regression_run, capsys):
    result, _ = regression_run
    assert main(["predict", str(result.run_dir), "great wonderful day", "terrible awful war"]) == 0
    out = capsys.readouterr().out
    assert "prediction" in out and "probabilities" not in out
    values = [float(v) for v in re.findall(r"\b\d+\.\d+\b", out)]
    assert len(values) == 2                                   # one value per input, nothing else


def test_report_peak_memory_is_whole_megabytes(regression_run):
    result, _ = regression_run
    html = (result.run_dir / "report.html").read_text()
    cell = re.search(r"peak memory \(MB\)</td><td>([^<]*)</td>", html).group(1)
    assert re.fullmatch(r"[\d,]+", cell), cell


def test_pack_segments_breaks_only_between_pieces():
    pieces = ["epoch 1/3", "step 120/360", "train loss 0.6931", "validation: macro_f1 0.8125", "accuracy 0.8200"]
    lines = pack_segments(pieces, 40)
    assert all(len(line) <= 40 for line in lines)
    assert [p for line in lines for p in line.strip().split("  ")] == pieces


def test_python_api_shows_progress_unless_quiet(bert_dir, text_csv, tmp_path, capsys):
    recipe = text_recipe(bert_dir, text_csv, tmp_path / "out", **{
        "train.epochs": 1, "train.max_steps": 2, "evaluate.bootstrap": 0, "evaluate.explain": 0,
        "evaluate.baseline": False, "evaluate.report": False, "output.save_model": False})
    tuneforge.finetune(recipe)
    out = capsys.readouterr().out
    assert "validation:" in out and "run folder:" in out
    tuneforge.finetune(recipe, quiet=True)
    assert capsys.readouterr().out == ""


"""`tuneforge lr-find` and `optimizer.lr: find` end to end on a tiny BERT: the files, the value
recorded in the run and its saved recipe, resume without a second search, the promised errors."""
import json

import pytest
import yaml

import tuneforge
from tuneforge.cli import main
from tuneforge.training.run_folder import set_status

from runs.conftest import sentiment_table, text_recipe


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory):
    """Enough rows for the default sweep at batch size 8 (100 steps in under 5 epochs)."""
    path = tmp_path_factory.mktemp("data") / "reviews.csv"
    sentiment_table(n=480, seed=3).to_csv(path, index=False)
    return path


def _recipe_file(tmp_path, bert_dir, csv, **over):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(text_recipe(bert_dir, csv, tmp_path / "runs", **over)))
    return path


def test_cli_writes_png_json_and_prints_the_override(bert_dir, text_csv, tmp_path, capsys):
    recipe = _recipe_file(tmp_path, bert_dir, text_csv)
    out = tmp_path / "lr"
    assert main(["lr-find", str(recipe), "train.batch_size=8", "--start", "1e-5", "--end", "1",
                 "--steps", "30", "--out", str(out)]) == 0
    data = json.loads((out / "lr_find.json").read_text())
    assert (out / "lr_find.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data["lrs"]) == len(data["losses"]) == len(data["smoothed"]) <= 30
    assert data["lrs"][0] == pytest.approx(1e-5) and data["lrs"] == sorted(data["lrs"])
    assert data["start"] == 1e-5 and data["end"] == 1.0 and data["rule"]
    printed = capsys.readouterr().out
    assert f"optimizer.lr={data['suggestion']:.1e}" in printed
    assert max(len(line) for line in printed.splitlines()) <= 80     # the terminal plot fits 80 columns
    assert not (tmp_path / "runs").exists()                           # --out: nothing else is written


def test_cli_refuses_bad_input_with_one_message(bert_dir, text_csv, tmp_path, capsys):
    recipe = _recipe_file(tmp_path, bert_dir, text_csv)
    assert main(["lr-find", str(recipe), "train.batch_size=64"]) == 2   # 144 rows: 3 steps per epoch
    err = capsys.readouterr().err
    assert "data.train: too small for the learning-rate range test" in err and "Traceback" not in err
    assert main(["lr-find", str(recipe), "optimizer.lr=fast"]) == 2
    assert "optimizer.lr: input should be a number greater than 0, or 'find'" in capsys.readouterr().err
    assert main(["validate", str(recipe), "optimizer.lr=find"]) == 0
    assert not (tmp_path / "runs").exists()


def test_recipe_with_lr_find_records_the_value_and_resume_reuses_it(bert_dir, big_csv, tmp_path):
    r = text_recipe(bert_dir, big_csv, tmp_path / "runs", **{
        "optimizer.lr": "find", "train.batch_size": 8, "train.epochs": 1, "train.max_steps": 8,
        "evaluate.bootstrap": 0, "evaluate.report": False, "evaluate.baseline": False, "evaluate.explain": 0})
    result = tuneforge.finetune(r)
    d = result.run_dir
    found = json.loads((d / "lr_find.json").read_text())
    assert (d / "lr_find.png").is_file()
    saved = yaml.safe_load((d / "recipe.yaml").read_text())
    assert saved["optimizer"]["lr"] == found["suggestion"] == result.metrics["lr_find"]["suggested"]
    assert result.metrics["lr_find"]["rule"] == found["rule"]
    assert 1e-7 < found["suggestion"] < 10
    history = [json.loads(l) for l in (d / "history.jsonl").read_text().splitlines()]
    assert max(history[0]["lr"].values()) <= found["suggestion"]     # the run trained at the found rate
    # a repeat from the saved recipe trains at the same number, exactly as the first run, and searches nothing
    again = tuneforge.finetune(d / "recipe.yaml")
    assert not (again.run_dir / "lr_find.json").exists() and "lr_find" not in again.metrics
    assert again.metrics["test"] == result.metrics["test"]
    # a resume reads the number from the saved recipe and keeps the record without a second search
    stamp = (d / "lr_find.json").stat().st_mtime_ns
    set_status(d, "interrupted")
    resumed = tuneforge.resume(d)
    assert (d / "lr_find.json").stat().st_mtime_ns == stamp
    assert resumed.metrics["lr_find"] == result.metrics["lr_find"]
    assert json.loads((d / "metrics.json").read_text())["lr_find"]["suggested"] == found["suggestion"]


def test_recipe_with_lr_find_on_too_little_data_fails_before_any_folder(bert_dir, text_csv, tmp_path):
    r = text_recipe(bert_dir, text_csv, tmp_path / "runs", **{"optimizer.lr": "find", "train.batch_size": 64})
    with pytest.raises(tuneforge.TuneforgeError, match="too small for the learning-rate range test"):
        tuneforge.finetune(r)
    assert not (tmp_path / "runs").exists()

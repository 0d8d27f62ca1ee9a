"""The command line: exit codes (2 for the user's errors, 0 for success), messages, listings."""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tuneforge.cli import main

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path, recipe: dict, name="r.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(recipe))
    return p


@pytest.mark.parametrize("what", ["models", "strategies", "tasks", "metrics", "optimizers", "schedulers", "datasets"])
def test_list(what, capsys):
    assert main(["list", what]) == 0
    out = capsys.readouterr().out
    expected = {"models": "minilm-l6", "strategies": "linear-probe", "tasks": "text-classification",
                "metrics": "macro_f1", "optimizers": "adamw", "schedulers": "cosine", "datasets": "tweets"}[what]
    assert expected in out


def test_list_unknown_is_exit_2(capsys):
    assert main(["list", "gizmos"]) == 2
    assert "cannot list 'gizmos'" in capsys.readouterr().err


def test_validate_reports_every_problem(tmp_path, capsys):
    p = write(tmp_path, {"task": "text-clasification", "model": {"name": "minilm-l6"},
                         "data": {"train": str(tmp_path / "missing.csv")}, "optimizer": {"lr": -1.0},
                         "strategy": {"name": "freez"}})
    assert main(["validate", str(p), "train.epochs=0"]) == 2
    err = capsys.readouterr().err
    assert "optimizer.lr" in err and "train.epochs" in err
    assert main(["validate", str(p)]) == 2
    err = capsys.readouterr().err
    assert 'did you mean "text-classification"' in err
    assert 'did you mean "freeze"' in err
    p2 = write(tmp_path, {"task": "text-classification", "model": {"name": "minilm-l6"},
                          "data": {"train": str(tmp_path / "missing.csv")}, "train": {"epochs": 0}})
    assert main(["validate", str(p2)]) == 2
    err = capsys.readouterr().err
    assert "train.epochs" in err and "missing.csv" in err


def test_validate_good_recipe(capsys):
    assert main(["validate", str(ROOT / "recipes" / "demo.yaml")]) == 0
    assert "is valid" in capsys.readouterr().out


def test_run_bad_recipe_exit_2_no_traceback_no_folder(tmp_path):
    p = write(tmp_path, {"task": "text-classification", "model": {"name": "minilm-l6"},
                         "data": {"train": str(tmp_path / "nope.csv")}, "output": {"dir": str(tmp_path / "runs")}})
    proc = subprocess.run([sys.executable, "-m", "tuneforge.cli", "run", str(p)], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "nope.csv" in proc.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_bad_override_syntax(tmp_path, capsys):
    assert main(["validate", str(ROOT / "recipes" / "demo.yaml"), "train.epochs"]) == 2
    assert "dotted.key=value" in capsys.readouterr().err

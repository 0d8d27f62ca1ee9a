"""Too little disk space for a checkpoint is reported before anything is written: a clear message,
the previous checkpoint intact, no half-written folder, and (from the command line) exit 2."""
import json
import shutil
from collections import namedtuple

import pytest
import torch

from tuneforge.cli import main
from tuneforge.errors import TrainingError
from tuneforge.training.checkpoint import latest_checkpoint, save_checkpoint
from tuneforge.training.state import TrainState

from reliability.conftest import only_run, small_recipe, write_recipe

Usage = namedtuple("Usage", "total used free")


def nearly_full(monkeypatch, free_bytes=1 << 20):
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda p: Usage(1 << 40, (1 << 40) - free_bytes, free_bytes) if "checkpoints" in str(p)
                        else real(p))


def test_low_space_keeps_previous_checkpoint(tmp_path, monkeypatch):
    net = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    folder = tmp_path / "checkpoints"
    first = save_checkpoint(folder, net, opt, TrainState(step=1), keep=1)
    nearly_full(monkeypatch)
    with pytest.raises(TrainingError, match=r"not enough disk space for a checkpoint in .*checkpoints: about \d+ MB "
                                            r"needed, 1 MB free"):
        save_checkpoint(folder, net, opt, TrainState(step=2), keep=1)
    assert latest_checkpoint(folder) == first
    assert sorted(p.name for p in folder.iterdir()) == ["latest", "step-00000001"]


def test_low_space_in_a_run_exits_2_with_the_message(bert_dir, small_csv, tmp_path, monkeypatch, capsys):
    recipe = small_recipe(bert_dir, small_csv, tmp_path / "runs", **{"strategy": {"name": "full"},
                                                                      "train.max_steps": 3})
    nearly_full(monkeypatch)
    assert main(["run", str(write_recipe(tmp_path / "r.yaml", recipe)), "--quiet"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "not enough disk space for a checkpoint" in err and "tuneforge run --resume" in err
    run = only_run(tmp_path / "runs")
    assert json.loads((run / "status.json").read_text())["state"] == "failed"
    assert not any((run / "checkpoints").glob("*step-*"))

"""A continual sequence killed (SIGKILL) in the middle of its second step, then resumed with
``tuneforge run --resume FOLDER``, ends bit-identical to one that was never interrupted: the first
step is not run again, the second resumes from its own checkpoint with the same start weights, the
same EWC Fisher (the previous step's model on the first task's rows) and the same replay buffer.

(About 3 runs of 2 tiny steps: the resume guarantee the continual feature promises, so not marked slow.)
"""
import json

import torch

from tuneforge.cli import main
from tuneforge.training.checkpoint import latest_checkpoint

from continual.conftest import continual_recipe
from reliability.conftest import cli_process, only_run, write_recipe

OVER = {"regularisers": [{"name": "ewc", "weight": 10.0, "samples": 8}], "continual": {"replay": {"size": 8}}}
# step 1: 48 rows, 3 steps per epoch, 6 steps; step 2: 48 + 8 replayed rows, 4 per epoch, 8 steps,
# checkpoints at 2, 4, 6: killed after step 7 of step 2, it resumes from 6
KILL = "step:13"


def _final(folder):
    saved = torch.load(folder / "continual_state.pt", weights_only=True)
    return saved["state"], json.loads((folder / "metrics.json").read_text())["continual"]


def test_a_sequence_killed_mid_step_resumes_exactly(bert_dir, topics_csv, tmp_path):
    reference = write_recipe(tmp_path / "ref.yaml", continual_recipe(bert_dir, topics_csv, tmp_path / "ref", **OVER))
    assert main(["run", str(reference), "--quiet"]) == 0
    ref_state, ref = _final(only_run(tmp_path / "ref"))

    recipe = write_recipe(tmp_path / "recipe.yaml", continual_recipe(bert_dir, topics_csv, tmp_path / "runs", **OVER))
    killed = cli_process(["run", recipe, "--quiet"], {"TUNEFORGE_FAULT": KILL})
    assert killed.returncode == -9, killed.stderr[-2000:]
    folder = only_run(tmp_path / "runs")
    progress = json.loads((folder / "continual.json").read_text())
    assert [s["task"] for s in progress["steps"]] == ["a"] and len(progress["rows"]) == 2
    step2 = folder / "steps" / "02-b"
    assert json.loads((step2 / "status.json").read_text())["state"] == "running"
    assert latest_checkpoint(step2 / "checkpoints").name == "step-00000006"
    first = (folder / "steps" / "01-a" / "metrics.json").read_text()

    assert main(["run", "--resume", str(folder), "--quiet"]) == 0
    assert (folder / "steps" / "01-a" / "metrics.json").read_text() == first       # not run again
    state, ours = _final(folder)
    assert ours["matrix"] == ref["matrix"]
    assert state.keys() == ref_state.keys()
    assert [k for k in state if not torch.equal(state[k], ref_state[k])] == []
    assert json.loads((folder / "status.json").read_text())["state"] == "completed"
    assert main(["run", "--resume", str(folder), "--quiet"]) == 2                  # a finished sequence

"""A real training process killed with SIGKILL at four different points, then resumed with
``tuneforge run --resume RUN``, ends bit-identical to a run that was never interrupted.

The process kills itself through the fault-injection hook (``TUNEFORGE_FAULT``, see
``tuneforge.training.faults``), so each kill lands at an exact, repeatable point. The recipe
(conftest ``small_recipe``): gradual unfreezing, 4 stages of 3 steps, 12 steps in 2 epochs of 6,
checkpoints every 2 steps, evaluations every 4 steps and at each epoch end, dropout on.
"""
import json

import pytest
import torch

from tuneforge.cli import main
from tuneforge.strategies import STRATEGIES
from tuneforge.training.checkpoint import latest_checkpoint

from reliability.conftest import (cli_process, final_weights, history, metrics, only_run, small_recipe,
                                  write_recipe)

pytestmark = pytest.mark.skipif("gradual-unfreezing" not in STRATEGIES,
                                reason="the gradual-unfreezing strategy is not registered in this checkout")

KILLS = {
    "mid-epoch": "step:5",                    # after step 5 of 6 in epoch 1; last checkpoint at step 4
    "mid-checkpoint-write": "checkpoint-write:2",  # writing step 4's checkpoint; step 2's must survive
    "during-evaluation": "evaluate:2",       # the epoch-1 evaluation at step 6, after its step checkpoint
    "between-stages": "stage:3",             # entering stage 4 at step 9 (mid-epoch 2); checkpoint at 8
}


@pytest.fixture(scope="module")
def reference(bert_dir, small_csv, tmp_path_factory):
    """The uninterrupted run (through the same command line, in this process)."""
    out = tmp_path_factory.mktemp("reference")
    recipe = write_recipe(out / "recipe.yaml", small_recipe(bert_dir, small_csv, out / "runs"))
    assert main(["run", str(recipe), "--quiet"]) == 0
    return only_run(out / "runs")


@pytest.mark.parametrize("where", list(KILLS))
def test_sigkill_then_resume_is_bit_identical(where, reference, bert_dir, small_csv, tmp_path):
    recipe = write_recipe(tmp_path / "recipe.yaml", small_recipe(bert_dir, small_csv, tmp_path / "runs"))
    killed = cli_process(["run", recipe, "--quiet"], {"TUNEFORGE_FAULT": KILLS[where]})
    assert killed.returncode == -9, killed.stderr[-2000:]  # died by SIGKILL, not by an error
    run = only_run(tmp_path / "runs")
    assert json.loads((run / "status.json").read_text())["state"] == "running"  # no chance to say otherwise
    assert not (run / "metrics.json").exists()
    ckpt = latest_checkpoint(run / "checkpoints")
    assert ckpt is not None
    if where == "mid-checkpoint-write":
        assert ckpt.name == "step-00000002"  # the previous checkpoint, intact and pointed to
        assert list((run / "checkpoints").glob(".tmp-step-00000004"))  # the half-written one
        assert not (run / "checkpoints" / ".tmp-step-00000004" / "optimizer.pt").exists()

    assert main(["run", "--resume", str(run), "--quiet"]) == 0
    assert json.loads((run / "status.json").read_text())["state"] == "completed"
    ours, theirs = final_weights(run), final_weights(reference)
    assert ours.keys() == theirs.keys()
    different = [k for k in ours if not torch.equal(ours[k], theirs[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[0]}"
    assert metrics(run)["test"] == metrics(reference)["test"]
    assert metrics(run)["validation"] == metrics(reference)["validation"]
    assert history(run) == history(reference)
    assert (run / "loss_trace.jsonl").read_text() == (reference / "loss_trace.jsonl").read_text()
    assert metrics(run)["diagnostics"] == metrics(reference)["diagnostics"]
    assert not list((run / "checkpoints").glob(".tmp-*"))  # leftovers of the kill are cleaned up

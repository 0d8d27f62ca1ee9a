"""A diverging run (learning rate 1e30) stops at the step where the loss turns non-finite, names it,
keeps its last good checkpoint and marks the run failed; with ``train.nonfinite: skip`` it skips
such batches and counts them in metrics.json."""
import json

from tuneforge.cli import main
from tuneforge.training import faults
from tuneforge.training.checkpoint import latest_checkpoint, load_checkpoint

from reliability.conftest import only_run, small_recipe, write_recipe


def diverging_recipe(bert_dir, csv, out, **over):
    return small_recipe(bert_dir, csv, out, **{"strategy": {"name": "full"}, "optimizer.lr": 1e30,
                                               "train.save_every_steps": 1, "train.max_steps": 4, **over})


def test_divergence_stops_with_the_step_and_keeps_the_last_checkpoint(bert_dir, small_csv, tmp_path, capsys):
    recipe = write_recipe(tmp_path / "r.yaml", diverging_recipe(bert_dir, small_csv, tmp_path / "runs"))
    assert main(["run", str(recipe), "--quiet"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "training diverged at step 2 (epoch 1)" in err and "optimizer.lr=1e+30" in err
    assert "Traceback" not in err
    run = only_run(tmp_path / "runs")
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "failed" and "diverged at step 2" in status["error"]
    assert status["resume"] == f"tuneforge run --resume {run}"
    assert not (run / "metrics.json").exists() and not (run / "model").exists()
    ckpt = latest_checkpoint(run / "checkpoints")
    assert ckpt is not None and ckpt.name == "step-00000001"  # the last step whose loss was finite

    from tuneforge.models import load_task_model
    from tuneforge.recipe import load_recipe
    from tuneforge.strategies.param_groups import build_param_groups
    from tuneforge.training.optimizers import build_optimizer
    r = load_recipe(run / "recipe.yaml")
    model = load_task_model(r.model, "text", 2, ["negative", "positive"], regression=False)
    state = load_checkpoint(ckpt, model.net, build_optimizer(build_param_groups(model.net, model.layer_map),
                                                             r.optimizer))
    assert state.step == 1


def test_skip_counts_skipped_batches(bert_dir, small_csv, tmp_path):
    """The third loss of the run is made NaN by the fault hook (a real divergence, as with lr=1e30,
    leaves no finite model to evaluate): that batch is skipped, counted, and the run completes."""
    recipe = small_recipe(bert_dir, small_csv, tmp_path / "runs", **{"strategy": {"name": "full"},
                          "train.nonfinite": "skip", "train.epochs": 1})
    faults.arm("nan-loss:3")
    try:
        assert main(["run", str(write_recipe(tmp_path / "r.yaml", recipe)), "--quiet"]) == 0
    finally:
        faults.arm(None)
    m = json.loads((only_run(tmp_path / "runs") / "metrics.json").read_text())
    assert m["train"]["skipped_batches"] == 1
    assert m["train"]["steps"] == 5  # 6 batches, one skipped


def test_skip_with_a_diverged_model_still_ends_cleanly(bert_dir, small_csv, tmp_path, capsys):
    """lr=1e30 with skip: every batch after the first step is skipped and the evaluation then refuses
    the non-finite model with a clean message (exit 2), never a traceback."""
    recipe = diverging_recipe(bert_dir, small_csv, tmp_path / "runs", **{"train.nonfinite": "skip"})
    assert main(["run", str(write_recipe(tmp_path / "r.yaml", recipe)), "--quiet"]) == 2
    assert "non-finite" in capsys.readouterr().err
    assert json.loads((only_run(tmp_path / "runs") / "status.json").read_text())["state"] == "failed"

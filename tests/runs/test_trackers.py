"""output.trackers: a tiny run logged to a real local MLflow store (SQLite), read back with MLflow's client;
unknown tracker names and a missing package are recipe errors before any run folder exists.

The MLflow test takes ~15 s on a busy 2-core machine, most of it MLflow creating its SQLite schema: it is the
only end-to-end check of the integration, so it stays in the default suite."""
import json

import pytest

import tuneforge
from tuneforge.errors import RecipeError
from tuneforge.recipe import load_recipe
from tuneforge.recipe.validate import check_recipe

from runs.conftest import text_recipe


def test_a_run_is_logged_to_mlflow_with_params_metrics_and_artifacts(bert_dir, text_csv, tmp_path):
    from mlflow.tracking import MlflowClient

    out = tmp_path / "runs"
    result = tuneforge.finetune(text_recipe(bert_dir, text_csv, out, **{
        "output.trackers": ["mlflow"], "output.experiment": "toy", "train.max_steps": 4, "train.eval_every_steps": 2,
        "evaluate.bootstrap": 0,
        "evaluate.baseline": False, "data.validation": 0.1,
        "regularisers": [{"name": "l2-sp", "weight": 1.0}], "strategy": {"name": "full", "warm_head": False}}),
        quiet=True)
    d = result.run_dir
    assert not (d / "tensorboard").exists()          # only the trackers asked for
    ids = json.loads((d / "mlflow_run.json").read_text())
    assert ids["tracking_uri"] == f"sqlite:///{out.resolve() / 'mlflow.db'}"
    client = MlflowClient(ids["tracking_uri"])
    run = client.get_run(ids["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == d.name
    assert client.get_experiment(run.info.experiment_id).name == "toy"
    params = run.data.params
    assert params["optimizer.lr"] == "0.003" and params["train.max_steps"] == "4" and params["task"] == "text-classification"
    steps = result.metrics["train"]["steps"]
    loss = client.get_metric_history(run.info.run_id, "train/loss")
    assert [m.step for m in loss] == list(range(1, steps + 1))
    penalty = client.get_metric_history(run.info.run_id, "train/penalty/l2-sp")
    assert len(penalty) == steps and penalty[-1].value > 0
    trace = [json.loads(line) for line in (d / "loss_trace.jsonl").read_text().splitlines()]
    assert [m.value for m in penalty] == pytest.approx([r["penalties"]["l2-sp"] for r in trace])
    assert len(client.get_metric_history(run.info.run_id, "lr/head")) == steps
    val = client.get_metric_history(run.info.run_id, "validation/accuracy")
    assert len(val) == len((d / "history.jsonl").read_text().splitlines())
    assert run.data.metrics["test/accuracy"] == pytest.approx(result.metrics["test"]["accuracy"])
    top = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"report.html", "metrics.json", "recipe.yaml", "model"} <= top
    assert "model/model.safetensors" in {a.path for a in client.list_artifacts(run.info.run_id, "model")}


def test_unknown_tracker_and_stray_uri_are_recipe_errors(bert_dir, text_csv, tmp_path):
    recipe = load_recipe(text_recipe(bert_dir, text_csv, tmp_path / "runs", **{
        "output.trackers": ["mlfow"], "output.tracking_uri": "sqlite:///x.db"}))
    with pytest.raises(RecipeError) as e:
        check_recipe(recipe)
    text = str(e.value)
    assert "output.trackers: unknown tracker 'mlfow' (did you mean \"mlflow\"?)" in text
    assert "output.tracking_uri: only MLflow uses it" in text
    assert not (tmp_path / "runs").exists()


def test_a_tracker_whose_package_is_missing_is_one_clear_message(bert_dir, text_csv, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    recipe = load_recipe(text_recipe(bert_dir, text_csv, tmp_path / "runs", **{"output.trackers": ["mlflow"]}))
    with pytest.raises(RecipeError) as e:
        check_recipe(recipe)
    assert e.value.problems == ["output.trackers: 'mlflow' needs the mlflow extra: pip install 'tuneforge[mlflow]'"]

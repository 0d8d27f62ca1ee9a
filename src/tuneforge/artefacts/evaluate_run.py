"""Use a finished run on new data: ``tuneforge evaluate RUN --data FILE`` and ``tuneforge predict RUN INPUT...``.

Both read only the run folder: ``recipe.yaml`` (task, columns, input size) and ``model/``
(loaded with :func:`~tuneforge.models.load_saved_model`). ``evaluate`` cleans the new
file like the recipe's data, refuses labels the model does not know, decides as the run does
(its tuned threshold or per-label thresholds saved beside the model, else argmax), and writes
``evaluations/<file stem>-<time>.json`` with the metrics, their bootstrap intervals and the
decision rule it applied (``decision``: the rule, its value(s) and where they came from).

Example::

    metrics = evaluate_run("runs/demo-20250101-120000", "more_tweets.csv")
    predict_run("runs/demo-20250101-120000", ["what a lovely day"])
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional, Sequence

from ..errors import TuneforgeError
from ..models import load_saved_model
from ..recipe import load_recipe
from ..tasks import TASKS
from ..data import load_data
from ..evaluation import predict_outputs
from ..training.run_folder import write_json
from ..terminal import print_path
from .result import predict_raw


def load_finished_run(run_dir: Path):
    """(recipe, task, model) of a run folder that has a saved model."""

    run_dir = Path(run_dir)
    if not (run_dir / "recipe.yaml").is_file():
        raise TuneforgeError(f"{run_dir} is not a run folder (no recipe.yaml)")
    if not (run_dir / "model").is_dir():
        raise TuneforgeError(f"{run_dir} has no saved model (model/): was it run with output.save_model=false, "
                             "or has it not finished?")
    recipe = load_recipe(run_dir / "recipe.yaml")
    return recipe, TASKS.get(recipe.task), load_saved_model(run_dir / "model", TASKS)


def evaluate_run(run_dir, data_file, console=None, resamples: Optional[int] = None) -> dict:
    """Metrics (``test``) and intervals (``test_ci``) of a run's model on ``data_file``; also written to disk."""
    import torch
    from rich.console import Console


    console = console or Console()
    run_dir = Path(run_dir)
    recipe, task, model = load_finished_run(run_dir)
    if not Path(data_file).exists():
        raise TuneforgeError(f"--data: {data_file} does not exist")
    section = recipe.data.model_copy(update={"train": str(data_file), "validation": None, "test": None,
                                             "max_train_samples": None,
                                             "labels": model.label_names if task.has_classes else None})
    bundle = load_data(section, task, recipe.train.seed)
    split = bundle.train
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    encoded = task.encode_split(split, model, section, "test", recipe.train.seed)
    outputs = predict_outputs(model, encoded, recipe.evaluate.batch_size, device)
    decision = task.read_decision(run_dir / "model")
    ev = recipe.evaluate.model_copy(update={"bootstrap": resamples}) if resamples is not None else recipe.evaluate
    applied = task.applied_decision(decision, model.label_names)
    result = {"data": str(data_file), "examples": len(split), "cleaning": [r.to_dict() for r in bundle.cleaning],
              **({"decision": applied} if applied else {}),
              "test": task.compute_metrics(split.targets, outputs, model.label_names, decision),
              **task.test_statistics(split.targets, outputs, model.label_names, ev, recipe.train.seed, decision)}
    out = run_dir / "evaluations"
    out.mkdir(exist_ok=True)
    path = out / f"{Path(data_file).stem}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    write_json(path, result)
    _print(console, result, task.summary_columns, path)
    return result


def _print(console, result: dict, names, path: Path) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{result['data']} ({result['examples']} examples)")
    for h in ("metric", "value", f"{result['confidence']:.0%} interval"):
        table.add_column(h, justify="right")
    for name in names:
        ci = result["test_ci"].get(name)
        table.add_row(name, f"{result['test'][name]:.4f}", f"[{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "-")
    console.print(table)
    if result.get("decision"):
        console.print(f"[dim]decision[/dim] {escape(result['decision']['text'])}")
    print_path(console, "written to", path)


def predict_cells(run_dir, inputs: Sequence[str], batch_size: int = 64) -> list[tuple[str, str]]:
    """(prediction, probabilities) as text for each input, as the task formats them (``tuneforge predict``)."""
    _, task, _ = load_finished_run(Path(run_dir))
    return [task.format_prediction(row) for row in predict_run(run_dir, inputs, batch_size)]


def predict_run(run_dir, inputs: Sequence[str], batch_size: int = 64) -> list[dict]:
    """Predictions for raw inputs (texts, or image file paths) with class probabilities."""

    recipe, task, model = load_finished_run(Path(run_dir))
    if not inputs:
        raise TuneforgeError("give at least one input to predict")
    return predict_raw(model, task, model.label_names, recipe.data, inputs, batch_size,
                       task.read_decision(Path(run_dir) / "model"))

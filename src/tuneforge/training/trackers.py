"""Experiment trackers (``output.trackers``), like the HF Trainer's ``report_to``.

* ``tensorboard`` (default): event files in the run folder's ``tensorboard/`` (see :mod:`.tensorboard`).
* ``mlflow``: one MLflow run per tuneforge run, through Accelerate's ``MLflowTracker``. Logged:
  the resolved recipe flattened to dotted keys as parameters (``optimizer.lr``...), at each
  optimizer step ``train/loss``, ``lr/<block>`` and ``train/penalty/<regulariser>``, at each
  evaluation ``validation/<metric>``, at the end ``test/<metric>`` (and ``retention/score``), then
  the run folder's report, metrics and recipe and the saved ``model/`` folder as artifacts.
  Search trials (lean runs) log parameters and metrics but no artifacts.

Where MLflow writes: ``output.tracking_uri`` when set (any MLflow URI: ``http://host:5000``,
``sqlite:///path.db``...), else a local SQLite store ``<output.dir>/mlflow.db`` with artifacts
under ``<output.dir>/mlartifacts`` (``mlflow ui --backend-store-uri sqlite:///runs/mlflow.db``
shows them). MLflow 3 refuses its old ``./mlruns`` file store unless ``MLFLOW_ALLOW_FILE_STORE``
is set and recommends a database, hence SQLite. The experiment is ``output.experiment`` or the
recipe's name. Only the main process of a multi-process run logs.

A resumed run continues the same MLflow run (its id is kept in ``mlflow_run.json``).
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Optional

from ..extras import extra_problem, require_extra
from ..registry import Registry
from .callbacks import Callback
from .distributed import is_main_process
from .history import scalar_metrics
from .tensorboard import tensorboard_callback

TRACKERS: Registry[str] = Registry("tracker")  # name -> the package it needs
TRACKERS.register("tensorboard", "TensorBoard event files in the run folder (default)")("tensorboard")
TRACKERS.register("mlflow", "an MLflow run: recipe as params, metrics per step, report and model as artifacts")(
    "mlflow")

EXTRA_OF = {"mlflow": "mlflow"}   # trackers whose package comes with an extra (tuneforge.extras)

RUN_ID_FILE = "mlflow_run.json"


def tracker_problems(output) -> list[str]:
    """Unknown tracker names and missing packages, before any run folder exists."""
    problems = []
    for name in output.trackers:
        if name not in TRACKERS:
            problems.append(f"output.trackers: {TRACKERS.unknown_message(name)}")
        elif name in EXTRA_OF:
            problems += [p for p in [extra_problem(EXTRA_OF[name], f"output.trackers: {name!r}")] if p]
        elif importlib.util.find_spec(TRACKERS.get(name)) is None:
            problems.append(f"output.trackers: {name!r} needs the {TRACKERS.get(name)} package, which is not "
                            f"installed (pip install {name})")
    if output.tracking_uri and "mlflow" not in output.trackers:
        problems.append("output.tracking_uri: only MLflow uses it; add mlflow to output.trackers")
    return problems


def flatten(tree, prefix: str = "") -> dict[str, str]:
    """``{"optimizer": {"lr": 0.001}}`` -> ``{"optimizer.lr": "0.001"}``; lists kept as one JSON value."""
    out: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, name + "."))
        elif value is not None:
            out[name] = value if isinstance(value, (int, float, str)) else json.dumps(value, default=str)
    return out


class MLflowLogger(Callback):
    """Logs a run to MLflow (see the module docstring); ``close`` adds the final metrics and artifacts."""

    order = 21

    def __init__(self, run_dir: Path, recipe, artifacts: bool = True):
        require_extra("mlflow", "output.trackers: 'mlflow'")
        import mlflow
        from accelerate.tracking import MLflowTracker

        out = recipe.output
        root = Path(out.dir).resolve()
        root.mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(out.tracking_uri or f"sqlite:///{root / 'mlflow.db'}")
        self.run_dir, self.artifacts = Path(run_dir), artifacts
        id_file = self.run_dir / RUN_ID_FILE
        run_id = json.loads(id_file.read_text())["run_id"] if id_file.is_file() else None
        self.tracker = MLflowTracker(experiment_name=out.experiment or recipe.name or recipe.task,
                                     logging_dir=None if out.tracking_uri else str(root / "mlartifacts"),
                                     run_id=run_id, run_name=self.run_dir.name)
        self.tracker.start()
        self.run_id = self.tracker.active_run.info.run_id
        if run_id is None:
            id_file.write_text(json.dumps({"run_id": self.run_id, "tracking_uri": mlflow.get_tracking_uri()}))
            self.tracker.store_init_configuration(flatten(recipe.model_dump(mode="json")))

    def on_step_end(self, trainer):
        values = {f"lr/{name}": lr for name, lr in trainer.current_lrs().items() if not name.endswith(" (no decay)")}
        values.update({f"train/penalty/{name}": v for name, v in trainer.last_penalties.items()})
        if trainer.last_loss is not None:
            values["train/loss"] = trainer.last_loss
        self.tracker.log(values, step=trainer.state.step)

    def on_evaluate(self, trainer, metrics):
        self.tracker.log({f"validation/{k}": v for k, v in scalar_metrics(metrics).items()}, step=trainer.state.step)

    def close(self, metrics: Optional[dict]) -> None:
        """The final test metrics and the run folder's artifacts, then end the MLflow run."""
        if metrics is not None:
            step = metrics.get("train", {}).get("steps")
            final = {f"test/{k}": v for k, v in scalar_metrics(metrics.get("test", {})).items()}
            score = (metrics.get("retention") or {}).get("score")
            if isinstance(score, (int, float)):
                final["retention/score"] = score
            self.tracker.log(final, step=step)
            if self.artifacts:
                for name in ("report.html", "metrics.json", "recipe.yaml", "history.jsonl"):
                    if (self.run_dir / name).is_file():
                        self.tracker.log_artifact(str(self.run_dir / name))
                if (self.run_dir / "model").is_dir():
                    self.tracker.log_artifacts(str(self.run_dir / "model"), "model")
            self.tracker.finish()
        else:
            end_failed_run()


def tracker_callbacks(recipe, run_dir: Path, lean: bool) -> list[Callback]:
    """The trainer callbacks of ``output.trackers`` for this process (none outside the main process).

    Lean runs (search trials) write no TensorBoard files and log no MLflow artifacts."""
    if not is_main_process():
        return []
    out: list[Callback] = []
    if "tensorboard" in recipe.output.trackers and not lean:
        tb = tensorboard_callback(run_dir)
        out += [tb] if tb is not None else []
    if "mlflow" in recipe.output.trackers:
        out.append(MLflowLogger(run_dir, recipe, artifacts=not lean))
    return out


def close_trackers(callbacks, metrics: Optional[dict]) -> None:
    """End the trackers' runs (``metrics``: the finished run's, or None when it failed)."""
    for cb in callbacks:
        if isinstance(cb, MLflowLogger):
            cb.close(metrics)


def end_failed_run(status: str = "FAILED") -> None:
    """End MLflow's active run (if one is open) as failed or killed: the run stopped on an error."""
    import sys

    mlflow = sys.modules.get("mlflow")
    if mlflow is not None and mlflow.active_run() is not None:
        mlflow.end_run(status=status)

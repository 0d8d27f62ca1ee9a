"""Finish a run: the one ending every mode uses, after its model is trained.

Final validation (and the decision tuned on it), the test split, the analyses, the saved model,
``metrics.json``, diagnostics, model cards, the report, the status and the summary. A one-run
pipeline, each fold of a cross-validation, each step of a continual sequence, each race round and
search trial, and a federated run all end here; what differs between them is data:

* ``record``: the entries the caller adds to ``metrics.json`` (how it trained: the ``train`` record,
  the plan, a federated run's rounds, a private run's budget, a race's rounds); ``record["train"]`` is a
  function, called when the metrics are assembled, so that its parameter count is the final model's
  (LoRA merged) and its peak memory the whole run's;
* ``steps``: which of the steps below run, in order (:data:`FULL`, :data:`LEAN` for a search trial or
  race round, :data:`FEDERATED`); each step is a function of one :class:`Finishing`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from rich.markup import escape

from ..analysis.diagnose import run_diagnostics
from ..analysis.extras import evaluate_extras
from ..analysis.retention import measure_retention
from ..artefacts.model_card import write_model_cards_quietly
from ..data.balance import split_class_counts
from ..models import save_task_model
from ..report import write_report_quietly
from ..strategies import Strategy
from ..terminal import print_path
from ..training.distributed import is_main_process
from ..training.trackers import close_trackers
from ..training.evaluator import SplitEvaluator
from ..training.run_folder import set_status, write_json
from .phases import PhaseClock
from ..artefacts.result import FinetuneResult
from .summary import print_summary


@dataclass
class Finishing:
    """What the finish steps share: the prepared run (``p``), where and how it ran, and what each step found."""

    p: Any                                   # runs.prepare.Prepared, its model trained
    run_dir: Path
    console: Any
    device: Any
    precision: str
    metric: str                              # the monitored metric (the decision is tuned for it)
    record: dict                             # metrics.json entries the caller adds (see the module docstring)
    clock: PhaseClock = field(default_factory=PhaseClock)
    save: bool = True                        # write the model folder (and the strategy's extra outputs)
    retention: bool = False                  # a lean run that still measures retention (a search objective)
    last_evaluation: Optional[Any] = None    # runs.evaluator.TrainingEvaluation: reuse its last outputs
    history: list = field(default_factory=list)      # validation records, for the diagnostics
    losses: list = field(default_factory=list)       # per-step losses, for the diagnostics
    trackers: list = field(default_factory=list)     # TensorBoard / MLflow callbacks, closed at the end
    summary: Callable[[Any, dict], None] = print_summary    # prints the run's summary
    # found by the steps
    merged: bool = False
    extra_files: list = field(default_factory=list)
    validation: dict = field(default_factory=dict)
    val_outputs: Any = None
    decision: Optional[dict] = None
    test: dict = field(default_factory=dict)
    test_outputs: Any = None
    analyses: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    report: Optional[Path] = None


def finalize_model(f: Finishing) -> None:
    """The strategy's extra outputs saved, then its final form (LoRA merged, a probe's head kept...)."""
    p = f.p
    f.extra_files = p.strategy.save_extra(p.model, f.run_dir) if f.save else []
    finalized = p.strategy.finalize(p.model)
    f.merged = finalized is not p.model or type(p.strategy).finalize is not Strategy.finalize
    p.model = finalized
    f.clock.lap("export")
    if p.scaler is not None:  # from now on the model predicts original units
        p.model.fold_target_scale(p.scaler.mean, p.scaler.std)


def _evaluator(f: Finishing, split: str, decision=None) -> SplitEvaluator:
    p = f.p
    return SplitEvaluator(p.task, p.encoded[split], getattr(p.data, split).targets, p.data.label_names,
                          p.recipe.evaluate.batch_size, f.precision, f.device, decision=decision)


def final_validation(f: Finishing) -> None:
    """Validation metrics of the final model, and the decision tuned on them (thresholds), printed."""
    p = f.p
    if "validation" not in p.encoded:
        return
    final_val = _evaluator(f, "validation")
    outputs = f.last_evaluation.final_outputs(f.merged) if f.last_evaluation is not None else None
    f.val_outputs = final_val.outputs(p.model) if outputs is None else outputs
    f.validation = final_val.metrics(f.val_outputs)
    f.decision = p.task.fit_decision(p.data.validation.targets, f.val_outputs, metric=f.metric,
                                     evaluate=p.recipe.evaluate)   # e.g. per-label thresholds, a binary threshold
    line = p.task.describe_decision(f.decision)
    if line:
        f.console.print(f"[dim]decision[/dim] {escape(line)}")


def test(f: Finishing) -> None:
    """Metrics on the test split, with the tuned decision."""
    if "test" not in f.p.encoded:
        return
    test_eval = _evaluator(f, "test", f.decision)
    f.test_outputs = test_eval.outputs(f.p.model)
    f.test = test_eval.metrics(f.test_outputs)


def analyses(f: Finishing) -> None:
    """Confidence intervals, the task's own statistics, explanations, retention... (:mod:`tuneforge.analysis`)."""
    f.analyses = evaluate_extras(f.p, f.run_dir, f.test_outputs, f.device, f.precision, f.console, f.decision)
    f.clock.lap("evaluation")


def lean_analyses(f: Finishing) -> None:
    """A lean run measures retention only when its caller asks (a search objective)."""
    if f.retention and f.p.recipe.evaluate.retention is not None:
        f.analyses = {"retention": measure_retention(f.p, f.p.model, f.device, f.console)}
    f.clock.lap("evaluation")


def save_model(f: Finishing) -> None:
    """The model folder: weights, label names, the decision and target scale, the task's own files."""
    p, recipe = f.p, f.p.recipe
    if f.save:
        save_task_model(p.model, f.run_dir / "model", p.data.label_names,
                        {"task": recipe.task, "recipe": recipe.model_dump(mode="json"),
                         **({"decision": f.decision} if f.decision else {}),
                         **({"target_scale": {"mean": float(p.scaler.mean), "std": float(p.scaler.std)}}
                            if p.scaler else {})})
        p.task.model_files(f.run_dir / "model", f.decision)
    f.clock.lap("export")


def assemble(f: Finishing) -> None:
    """``metrics.json``'s content: what was measured here, with the caller's record."""
    p, recipe, task = f.p, f.p.recipe, f.p.task
    record = dict(f.record)
    f.metrics = {
        "task": recipe.task, "model": recipe.model.name,
        "pooling": {"how": p.model.pooling, "source": p.model.pooling_source},
        "strategy": {"name": recipe.strategy.name, **recipe.strategy.model_dump(exclude={"name"}),
                     **({"plan": record.pop("plan")} if "plan" in record else {})},
        "precision": f.precision, "monitor": f.metric, "columns": task.describe(),
        "baseline_name": task.baseline_name,
        **({"decision": f.decision} if f.decision else {}),
        "test": f.test, "validation": f.validation,
        "baseline": record.pop("baseline", {}), "baseline_majority": record.pop("baseline_majority", {}),
        "train": record.pop("train")(),
        **({"final_model": record.pop("final_model")} if "final_model" in record else {}),
        **({"class_balance": record.pop("class_balance")} if "class_balance" in record else {}),
        "data": {"sizes": p.data.sizes(), "label_names": p.data.label_names,
                 **({"class_counts": split_class_counts(task, p.data)} if task.has_classes else {}),
                 "cleaning": [r.to_dict() for r in p.data.cleaning], **p.data.description},
        **({"privacy": record.pop("privacy")} if "privacy" in record else {}),
        "regularisers": [r.model_dump() for r in recipe.regularisers], "extra_outputs": f.extra_files,
        "resumed": record.pop("resumed", False), "run_dir": str(f.run_dir),
    }
    f.metrics.update(f.analyses)
    f.metrics.update(record)


def diagnostics(f: Finishing) -> None:
    """What went wrong or is suspicious, with its evidence (:mod:`tuneforge.analysis.diagnose`)."""
    outputs = f.test_outputs if "test" in f.p.encoded else f.val_outputs  # the evaluation split is not predicted twice
    f.metrics.update(run_diagnostics(f.p, f.run_dir, f.metric, outputs, f.history, f.losses, f.device,
                                     f.precision, f.metrics))
    f.clock.lap("diagnostics")


def write_metrics(f: Finishing) -> None:
    f.metrics.update(f.clock.record())
    write_json(f.run_dir / "metrics.json", f.metrics)


def cards(f: Finishing) -> None:
    """The model folder's README (reads metrics.json: its time goes to "export")."""
    if f.save:
        write_model_cards_quietly(f.run_dir, f.console)
        f.clock.lap("export")


def report(f: Finishing) -> None:
    """``report.html`` (reads metrics.json; its time is added to metrics.json after)."""
    if f.p.recipe.evaluate.report and is_main_process():
        f.report = write_report_quietly(f.run_dir, f.console, announce=False)
        f.clock.lap("report")
    write_metrics(f)


def complete(f: Finishing) -> None:
    """The status says completed; the summary, the report's path; trackers closed after every artifact."""
    set_status(f.run_dir, "completed")
    f.summary(f.console, f.metrics)
    if f.report is not None:
        print_path(f.console, "report", f.report)
    close_trackers(f.trackers, f.metrics)


def complete_quietly(f: Finishing) -> None:
    """A lean run: completed, trackers closed, nothing printed."""
    set_status(f.run_dir, "completed")
    close_trackers(f.trackers, f.metrics)


FULL = (finalize_model, final_validation, test, analyses, save_model, assemble, diagnostics, write_metrics, cards,
        report, complete)
LEAN = (finalize_model, final_validation, test, lean_analyses, save_model, assemble, write_metrics, complete_quietly)


def finish(f: Finishing, steps=FULL) -> FinetuneResult:
    """Run ``steps`` in order on ``f``; return the run's :class:`~tuneforge.artefacts.result.FinetuneResult`."""
    for step in steps:
        step(f)
    p = f.p
    return FinetuneResult(recipe=p.recipe, metrics=f.metrics, run_dir=f.run_dir, model=p.model, task=p.task,
                          label_names=p.data.label_names, data_section=p.recipe.data, decision=f.decision)


def finish_parent(folder: Path, metrics: dict, console, show: Callable[[Any, dict], None],
                  write_report: Optional[Callable[[Path, Any], Any]]) -> None:
    """End a folder that holds several runs (a cross-validation's folds, a continual sequence's steps):
    its ``metrics.json``, the completed status, its summary (``show``) and, unless ``write_report`` is
    None, its report."""
    write_json(folder / "metrics.json", metrics)
    set_status(folder, "completed")
    show(console, metrics)
    if write_report is not None:
        write_report(folder, console)

"""One run, start to finish: recipe -> data -> model -> baseline -> training -> test -> saved model.

Everything that can fail because of the user's input (recipe, data, model) happens
before the run folder is created, so a bad input never leaves a half-written folder.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch
from rich.console import Console
from rich.markup import escape

from ..data import load_data
from ..data.balance import counts_line, split_class_counts
from ..errors import RecipeError, TuneforgeError
from ..evaluation import greater_is_better
from ..models import save_task_model
from ..recipe import Recipe, check_recipe, load_recipe, recipe_to_yaml
from ..report.augment_grid import write_augment_grid
from ..regularisers import build_regularisers
from ..strategies import Strategy
from ..tasks import TASKS, TargetScaler
from ..privacy import engine_for
from ..training import Checkpointer, EarlyStopping, MetricTracker, Trainer, resolve
from ..training.history import HistoryWriter
from ..training.model_options import apply_model_options
from ..training.progress import ProgressReporter
from .evaluator import SplitEvaluator, TrainingEvaluation
from ..analysis.extras import evaluate_extras
from .lr_find import lr_find_record, resolve_lr_find, write_lr_find
from ..artefacts.model_card import write_model_cards_quietly
from .phases import PhaseClock
from ..report import write_report_quietly
from ..training.trackers import close_trackers, end_failed_run, tracker_callbacks
from ..training.checkpoint import check_checkpoint, latest_checkpoint
from ..training.distributed import is_main_process, shared_value
from .folder import new_run_dir, read_status, set_status, write_json, write_text
from .summary import print_summary
from ..terminal import print_path
from ..analysis.baselines import baselines_for_run
from ..analysis.diagnose import run_diagnostics
from ..training.loss_trace import LossTrace
from .hooks import RunHooks
from .head_data import head_data
from .plan_lines import head_solution_line, plan_notes, print_plan
from .train_record import train_record


@dataclass
class Prepared:
    recipe: Recipe
    task: object
    data: object
    model: object
    strategy: Strategy
    scaler: Optional[TargetScaler]
    encoded: dict
    lr_find: Optional[object] = None  # the range test's result when the recipe says optimizer.lr: find
    features: dict = field(default_factory=dict)  # split -> frozen features [N, D] (baseline, head solver)
    clock: PhaseClock = field(default_factory=PhaseClock)  # where the run's time goes (see .phases)
    continual: Optional[object] = None  # a continual step's context for the regularisers (tuneforge.continual)


def prepare(recipe: Recipe, console: Console, data=None, hooks: Optional[RunHooks] = None,
            clock: Optional[PhaseClock] = None) -> Prepared:
    """Validate, load data and model, encode: all before any run folder exists.

    ``data``: an already split :class:`~tuneforge.data.bundle.DataBundle` (one fold of a
    cross-validation) instead of loading ``recipe.data``. ``hooks``: shared data, encodings and
    frozen features of earlier runs in this process (see :mod:`.hooks`). ``clock``: charged with data
    preparation, model loading and the learning-rate range test (a new one when None).
    """
    hooks = hooks or RunHooks()
    clock = clock if clock is not None else PhaseClock()
    data = data if data is not None else hooks.data
    check_recipe(recipe)
    task = TASKS.get(recipe.task)
    torch.manual_seed(recipe.train.seed)
    if data is None:
        data = load_data(recipe.data, task, recipe.train.seed)
    for report in data.cleaning:
        console.print(f"[dim]data[/dim] {report.summary()}")
    for note in data.description.get("notes", []):  # e.g. audio clips cut to data.max_seconds
        console.print(f"[yellow]data[/yellow] {escape(note)}")
    console.print("[dim]data[/dim] splits: " + ", ".join(f"{k} {v}" for k, v in data.sizes().items()))
    counts = split_class_counts(task, data)
    if counts:
        console.print("[dim]data[/dim] examples per class in train: " + escape(counts_line(counts["train"])))
    clock.lap("data preparation")
    model = task.build_model(recipe.model, data.label_names, image_size=recipe.data.image_size)
    if hooks.start is not None:  # a continual step: the previous step's weights
        hooks.start(model)
    strategy = Strategy.from_section(recipe.strategy)
    model = strategy.prepare(model)
    if recipe.privacy is not None:  # layers Opacus cannot give per-example gradients for, before any folder
        from ..privacy import model_problems
        problems = model_problems(model, strategy)
        if problems:
            raise RecipeError(problems=problems)
    apply_model_options(model, recipe.train)  # gradient checkpointing, torch.compile (after adapters wrap)
    clock.lap("model loading")
    scaler = task.target_scaler(data.train.targets)
    key = RunHooks.encoding_key(recipe)
    encoded = {}
    for name in ("train", "validation", "test"):
        split = getattr(data, name)
        if split is None:
            continue
        if (name, key) not in hooks.encoded:
            transform = scaler.transform if scaler is not None and name == "train" else None
            hooks.encoded[(name, key)] = task.encode_split(split, model, recipe.data, name, recipe.train.seed,
                                                           targets_transform=transform)
        encoded[name] = hooks.encoded[(name, key)]
    for name, enc in encoded.items():   # what encoding cost (token tasks: truncated sentences), never silent
        truncation = getattr(enc, "truncation", None)
        if truncation is not None:
            data.description.setdefault("truncation", {})[name] = dict(truncation)
            for note in enc.notes(name):
                console.print(f"[yellow]data[/yellow] {escape(note)}")
    clock.lap("data preparation")
    p = Prepared(recipe, task, data, model, strategy, scaler, encoded,
                 features=hooks.features.setdefault(RunHooks.features_key(recipe), {}), clock=clock,
                 continual=hooks.continual)
    p.recipe = resolve_lr_find(p, console)  # optimizer.lr: find -> the range test's suggestion
    if p.lr_find is not None:
        clock.lap("lr find")
    return p


def _evaluator(p: Prepared, split: str, precision: str, device, scaler) -> Optional[SplitEvaluator]:
    if split not in p.encoded:
        return None
    return SplitEvaluator(p.task, p.encoded[split], getattr(p.data, split).targets, p.data.label_names,
                          p.recipe.evaluate.batch_size, precision, device, scaler)


def run(recipe: Recipe, console: Optional[Console] = None, quiet: bool = False,
        resume_dir: Optional[Path] = None, run_dir: Optional[Path] = None, hooks: Optional[RunHooks] = None,
        clock: Optional[PhaseClock] = None):
    """Run one recipe; return a :class:`~tuneforge.runs.result.FinetuneResult`.

    ``run_dir``: an empty folder to run in (a search trial's) instead of a new one under
    ``output.dir``; ``hooks``: see :mod:`.hooks`; ``clock``: the command line's
    :meth:`~.phases.PhaseClock.from_process_start`, so that start-up counts (a new clock when None).
    """
    from .result import FinetuneResult

    console = console if console is not None and is_main_process() else Console(quiet=quiet or not is_main_process())
    if recipe.tasks:
        from ..continual import run_sequence  # one step per task, each from the last (docs/continual.md)
        return run_sequence(recipe, console, quiet)
    if recipe.strategy.name == "auto" and resume_dir is None and run_dir is None:
        from ..search.race import run_race  # races the candidates, then runs the winner (docs/strategies.md)
        return run_race(recipe, console, quiet, hooks)
    if recipe.evaluate.folds and resume_dir is None:
        from ..modes.kfold import run_folds
        return run_folds(recipe, console, quiet)
    hooks = hooks or RunHooks()
    p = prepare(recipe, console, hooks=hooks, clock=clock)
    if resume_dir is not None:  # refuse another model's checkpoint before touching the folder
        check_checkpoint(_checkpoint_to_resume(resume_dir), p.model.net)
    name = recipe.output.name or recipe.name or f"{recipe.task}-{recipe.strategy.name}"
    if run_dir is not None:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
    run_dir = resume_dir or run_dir or shared_value(lambda: new_run_dir(recipe.output.dir, name))
    try:
        return _train_and_report(p, run_dir, console, quiet, resume_dir is not None, FinetuneResult, hooks)
    except KeyboardInterrupt:
        set_status(run_dir, "interrupted", resume=f"tuneforge run --resume {run_dir}")
        end_failed_run("KILLED")
        raise
    except BaseException as e:
        set_status(run_dir, "failed", error=str(e), resume=f"tuneforge run --resume {run_dir}")
        end_failed_run()
        raise


def _train_and_report(p: Prepared, run_dir: Path, console, quiet, resuming, result_cls,
                      hooks: Optional[RunHooks] = None):
    from ..search.race_report import race_record, recipe_note  # (not at the top: tuneforge.search may import this module)

    recipe, task, clock = p.recipe, p.task, p.clock
    hooks = hooks or RunHooks()
    lean = hooks.lean
    if not resuming:
        if p.lr_find is not None:
            write_lr_find(p.lr_find, run_dir)
        recipe = p.recipe = _repeatable(recipe, run_dir)
    set_status(run_dir, "running")
    history, loss_trace = HistoryWriter(run_dir / "history.jsonl"), LossTrace(run_dir / "loss_trace.jsonl")
    trainer_cbs = [history, loss_trace, Checkpointer(recipe.train.save_every_steps),
                   ProgressReporter(console, bar=not quiet)]
    if recipe.train.early_stopping:
        trainer_cbs.append(EarlyStopping(recipe.train.early_stopping.patience))
    trackers = tracker_callbacks(recipe, run_dir, lean)   # output.trackers: tensorboard, mlflow
    trainer_cbs += trackers
    trainer_cbs += list(hooks.callbacks)
    metric = recipe.evaluate.metric or task.default_metric()
    tracker = MetricTracker(metric, greater_is_better(metric),
                            recipe.train.early_stopping.min_delta if recipe.train.early_stopping else 0.0)
    regularisers = build_regularisers(recipe.regularisers)
    for reg in regularisers:
        reg.setup(p.model, p)
        if getattr(reg, "note", None):   # ewc: which head its Fisher was read through
            console.print(f"[dim]regulariser[/dim] {reg.name}: Fisher read through {escape(reg.note)}")
    engine = engine_for(recipe)   # how steps are made: DP-SGD under privacy:, else plain training
    resolved = resolve(p.model, task, recipe, p.strategy, p.encoded["train"], engine)
    recipe = p.recipe = resolved.recipe  # every unset setting now holds the strategy's default
    trainer = Trainer(p.model, task, resolved, p.encoded["train"], run_dir=run_dir, callbacks=trainer_cbs,
                      tracker=tracker if "validation" in p.encoded else None, regularisers=regularisers,
                      engine=engine)
    if not resuming:
        write_text(run_dir / "recipe.yaml", recipe_note(run_dir) + recipe_to_yaml(recipe))
    device, precision = trainer.accelerator.device, trainer.precision
    trainer.head_data = lambda shared: head_data(p, shared, precision, device)
    clock.lap("setup")
    majority, probe = baselines_for_run(p, run_dir, resuming, precision, device) if not lean else ({}, {})
    clock.lap("baselines")
    val_eval = _evaluator(p, "validation", precision, device, p.scaler)
    if val_eval is not None:
        trainer.evaluate_fn = val_eval = TrainingEvaluation(val_eval, p.model, trainer)
    plan = trainer.plan
    plan_rows = plan.to_dict(p.model.layer_map, trainer.groups)
    plan_rows[0]["defaults"] = {k: {"value": v, "from": why} for k, (v, why) in trainer.defaults.items()}
    plan_rows[0]["notes"] = plan_notes(trainer)
    plan_rows[0]["class_balance"] = trainer.balance.describe()
    write_json(run_dir / "plan.json", plan_rows)
    print_plan(console, plan_rows, trainer)
    if not resuming and is_main_process() and write_augment_grid(p.encoded["train"], run_dir, recipe.train.seed,
                                                                 p.data.label_names) is not None:
        console.print(f"[dim]data[/dim] augment: {', '.join(e['name'] for e in recipe.data.augment)} "
                      "(training images only; see augment_grid.png)")
    if trainer.prefix_cache.active:
        console.print(trainer.prefix_cache.summary())
    clock.lap("setup")
    state = trainer.fit(resume=resuming)
    clock.lap("training")
    train_seconds_here = state.seconds - trainer.seconds_before  # measured as train.seconds is: steps only
    if trainer.head_solution is not None:
        plan_rows[0]["head_solution"] = trainer.head_solution
        write_json(run_dir / "plan.json", plan_rows)
        console.print(f"[dim]plan[/dim] {head_solution_line(trainer.head_solution)}")
    save = recipe.output.save_model and is_main_process() and not lean
    extra_files = p.strategy.save_extra(p.model, run_dir) if save else []
    finalized = p.strategy.finalize(p.model)
    merged = finalized is not p.model or type(p.strategy).finalize is not Strategy.finalize
    p.model = finalized
    clock.lap("export")

    if p.scaler is not None:  # from now on the model predicts original units
        p.model.fold_target_scale(p.scaler.mean, p.scaler.std)
    validation, decision, val_outputs = {}, None, None
    if val_eval:
        final_val = SplitEvaluator(task, p.encoded["validation"], p.data.validation.targets, p.data.label_names,
                                   recipe.evaluate.batch_size, precision, device)
        val_outputs = val_eval.final_outputs(merged)  # the last evaluation's outputs when the model is final
        val_outputs = final_val.outputs(p.model) if val_outputs is None else val_outputs
        validation = final_val.metrics(val_outputs)
        decision = task.fit_decision(p.data.validation.targets, val_outputs, metric=metric,
                                     evaluate=recipe.evaluate)   # e.g. per-label thresholds, a binary threshold
        line = task.describe_decision(decision)
        if line:
            console.print(f"[dim]decision[/dim] {escape(line)}")
    test_eval = SplitEvaluator(task, p.encoded["test"], p.data.test.targets, p.data.label_names,
                               recipe.evaluate.batch_size, precision, device, decision=decision) \
        if "test" in p.encoded else None
    test_outputs = test_eval.outputs(p.model) if test_eval else None
    test = test_eval.metrics(test_outputs) if test_eval else {}
    if not lean:
        extras = evaluate_extras(p, run_dir, test_outputs, device, precision, console, decision)
    elif hooks.retention and recipe.evaluate.retention is not None:
        from ..analysis.retention import measure_retention
        extras = {"retention": measure_retention(p, p.model, device, console)}
    else:
        extras = {}
    clock.lap("evaluation")
    if save:
        save_task_model(p.model, run_dir / "model", p.data.label_names,
                        {"task": recipe.task, "recipe": recipe.model_dump(mode="json"),
                         **({"decision": decision} if decision else {}),
                         **({"target_scale": {"mean": float(p.scaler.mean), "std": float(p.scaler.std)}} if p.scaler else {})})
        task.model_files(run_dir / "model", decision)
    clock.lap("export")
    trainable = sum(g.numel for g in trainer.groups if any(s.settings(g)[0] for s in plan.stages))
    total = sum(par.numel() for par in p.model.net.parameters())
    metrics = {
        "task": recipe.task, "model": recipe.model.name,
        "pooling": {"how": p.model.pooling, "source": p.model.pooling_source},
        "strategy": {"name": recipe.strategy.name, **recipe.strategy.model_dump(exclude={"name"}), "plan": plan_rows},
        "precision": precision, "monitor": metric, "columns": task.describe(),
        "baseline_name": task.baseline_name,
        **({"decision": decision} if decision else {}),
        "test": test, "validation": validation, "baseline": probe, "baseline_majority": majority,
        "train": train_record(state, trainer, p.encoded["train"], recipe, trainable, total, device,
                              train_seconds_here if resuming else None),
        "class_balance": trainer.balance.describe(),
        "data": {"sizes": p.data.sizes(), "label_names": p.data.label_names,
                 **({"class_counts": split_class_counts(task, p.data)} if task.has_classes else {}),
                 "cleaning": [r.to_dict() for r in p.data.cleaning], **p.data.description},
        **({"privacy": {**trainer.engine.describe(), "baseline_private": False}} if trainer.engine.describe() else {}),
        "regularisers": [r.model_dump() for r in recipe.regularisers], "extra_outputs": extra_files,
        "resumed": resuming, "run_dir": str(run_dir),
    }
    metrics.update(extras)
    metrics.update(lr_find_record(run_dir))
    metrics.update(race_record(run_dir))
    if not lean:
        split_outputs = test_outputs if test_eval else val_outputs  # the evaluation split is not predicted twice
        metrics.update(run_diagnostics(p, run_dir, metric, split_outputs, history.records, loss_trace.losses,
                                       device, precision, metrics))
        clock.lap("diagnostics")
    metrics.update(clock.record())
    write_json(run_dir / "metrics.json", metrics)
    if save:
        write_model_cards_quietly(run_dir, console)   # reads metrics.json: its time goes to "export"
        clock.lap("export")
    report = None
    if recipe.evaluate.report and is_main_process() and not lean:
        report = write_report_quietly(run_dir, console, announce=False)  # reads metrics.json: time added after
        clock.lap("report")
    metrics.update(clock.record())
    write_json(run_dir / "metrics.json", metrics)
    set_status(run_dir, "completed")
    if not lean:
        print_summary(console, metrics)
    if report is not None:
        print_path(console, "report", report)
    close_trackers(trackers, metrics)   # after the report: it is one of the artifacts
    return result_cls(recipe=recipe, metrics=metrics, run_dir=run_dir, model=p.model, task=task,
                      label_names=p.data.label_names, data_section=recipe.data, decision=decision)


def _repeatable(recipe: Recipe, run_dir: Path) -> Recipe:
    """The recipe with data paths made absolute and in-memory tables saved into the run folder."""
    from ..data.packaged import DATASETS
    from ..data.tables import as_table

    changes = {}
    for key in ("train", "validation", "test"):
        value = getattr(recipe.data, key)
        if value is None or isinstance(value, float):
            continue
        if isinstance(value, (str, Path)):
            path = Path(value)
            if path.exists() and str(value).split(":")[0] not in DATASETS:
                changes[key] = str(path.resolve())
            continue
        table, _ = as_table(value)
        (run_dir / "data").mkdir(exist_ok=True)
        target = run_dir / "data" / f"{key}.parquet"
        table.to_parquet(target)
        changes[key] = str(target)
    if not changes:
        return recipe
    return recipe.model_copy(update={"data": recipe.data.model_copy(update=changes)})


def resume(run_dir: Path, console: Optional[Console] = None, quiet: bool = False,
           clock: Optional[PhaseClock] = None):
    """Continue a killed or interrupted run from its latest checkpoint (``clock``: as for :func:`run`)."""
    run_dir = Path(run_dir)
    if (run_dir / "continual.json").is_file():
        from ..continual import resume_sequence  # killed mid-sequence: finished steps are kept
        return resume_sequence(run_dir, console or Console(quiet=quiet), quiet)
    if not (run_dir / "recipe.yaml").is_file() and (run_dir / "race" / "recipe.yaml").is_file():
        from ..search.race import resume_race  # killed during a strategy race: finish it
        return resume_race(run_dir, console or Console(quiet=quiet), quiet)
    if not (run_dir / "recipe.yaml").is_file():
        raise TuneforgeError(f"--resume {run_dir}: not a run folder (no recipe.yaml)")
    if read_status(run_dir).get("state") == "completed":
        raise TuneforgeError(f"--resume {run_dir}: this run already completed; start a new one with "
                             f"`tuneforge run {run_dir}/recipe.yaml`")
    _checkpoint_to_resume(run_dir)
    return run(load_recipe(run_dir / "recipe.yaml"), console, quiet, resume_dir=run_dir, clock=clock)


def _checkpoint_to_resume(run_dir: Path) -> Path:
    path = latest_checkpoint(run_dir / "checkpoints")
    if path is None:
        raise TuneforgeError(f"--resume {run_dir}: the run folder holds no complete checkpoint (it was stopped "
                             "before its first one, or checkpoints/ was removed); start it again with "
                             f"`tuneforge run {run_dir}/recipe.yaml`")
    return path

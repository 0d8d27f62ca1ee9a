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
from ..recipe import Recipe, check_recipe, load_recipe, recipe_to_yaml
from ..report.augment_grid import write_augment_grid
from ..regularisers import build_regularisers
from ..strategies import Strategy
from ..tasks import TASKS, TargetScaler
from ..privacy import engine_for
from ..training import Checkpointer, EarlyStopping, MetricTracker, Trainer, resolve
from ..training.final_model import final_model_record
from ..training.history import HistoryWriter
from ..training.model_options import apply_model_options
from ..training.progress import ProgressReporter
from ..training.evaluator import SplitEvaluator, TrainingEvaluation
from .finish import FULL, LEAN, Finishing, finish
from .lr_find import lr_find_record, resolve_lr_find, write_lr_find
from .phases import PhaseClock
from ..training.trackers import end_failed_run, tracker_callbacks
from ..training.checkpoint import check_checkpoint, latest_checkpoint
from ..training.distributed import describe_processes, is_main_process, shared_value
from ..training.run_folder import new_run_dir, read_status, set_status, write_json, write_text
from ..analysis.baselines import baselines_for_run
from ..training.loss_trace import LossTrace
from .hooks import RunHooks
from .summary import head_solution_line, plan_notes, print_plan
from ..privacy import model_problems
from ..data.packaged import DATASETS
from ..data.tables import as_table
import numpy as np
from ..evaluation import extract_features
from ..head.start import HeadData, head_inputs
from ..models.precision import autocast_dtype
import resource
from ..data import batch_order, padding_fraction


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
    """Train and evaluate exactly one run of ``recipe``; return a :class:`~tuneforge.artefacts.result.FinetuneResult`.

    This is one run and nothing else: a recipe with ``tasks``, ``evaluate.folds`` or ``strategy: auto``
    is a mode above one run, which :mod:`tuneforge.modes.dispatch` chooses (and which calls this).

    ``run_dir``: an empty folder to run in (a search trial's) instead of a new one under
    ``output.dir``; ``hooks``: see :mod:`.hooks`; ``clock``: the command line's
    :meth:`~.phases.PhaseClock.from_process_start`, so that start-up counts (a new clock when None).
    """
    console = console if console is not None and is_main_process() else Console(quiet=quiet or not is_main_process())
    hooks = hooks or RunHooks()
    p = prepare(recipe, console, hooks=hooks, clock=clock)
    if resume_dir is not None:  # refuse another model's checkpoint before touching the folder
        check_checkpoint(_checkpoint_to_resume(resume_dir), p.model.net)
    name = recipe.output.name or recipe.name or f"{recipe.task}-{recipe.strategy.name}"
    if run_dir is not None:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
    run_dir = resume_dir or run_dir or shared_value(lambda: new_run_dir(recipe.output.dir, name))
    try:
        return train_and_finish(p, run_dir, console, quiet, resume_dir is not None, hooks)
    except KeyboardInterrupt:
        set_status(run_dir, "interrupted", resume=f"tuneforge run --resume {run_dir}")
        end_failed_run("KILLED")
        raise
    except BaseException as e:
        set_status(run_dir, "failed", error=str(e), resume=f"tuneforge run --resume {run_dir}")
        end_failed_run()
        raise


def train_and_finish(p: Prepared, run_dir: Path, console, quiet, resuming, hooks: Optional[RunHooks] = None):
    """Train the prepared run in ``run_dir`` (``resuming``: from its latest checkpoint), then :func:`.finish.finish` it."""
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
        write_text(run_dir / "recipe.yaml", hooks.recipe_note + recipe_to_yaml(recipe))
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
    trainable = sum(g.numel for g in trainer.groups if any(s.settings(g)[0] for s in plan.stages))

    def train() -> dict:   # when the metrics are assembled: the final model's size, the whole run's peak memory
        total = sum(par.numel() for par in p.model.net.parameters())
        return train_record(state, trainer, p.encoded["train"], recipe, trainable, total, device,
                            train_seconds_here if resuming else None)

    record = {"plan": plan_rows, "baseline": probe, "baseline_majority": majority, "train": train,
              "class_balance": trainer.balance.describe(),
              **({"privacy": {**trainer.engine.describe(), "baseline_private": False}} if trainer.engine.describe() else {}),
              "final_model": final_model_record(state, recipe.train.restore_best, history.records, trainer.tracker,
                                                trainer.total_steps),
              "resumed": resuming, "distributed": describe_processes(trainer.accelerator.state),
              **lr_find_record(run_dir), **hooks.record}
    f = Finishing(p, run_dir, console, device, precision, metric, record, clock=clock,
                  save=recipe.output.save_model and is_main_process() and not lean, retention=hooks.retention,
                  last_evaluation=val_eval, history=history.records, losses=loss_trace.losses, trackers=trackers)
    return finish(f, LEAN if lean else FULL)


def _repeatable(recipe: Recipe, run_dir: Path) -> Recipe:
    """The recipe with data paths made absolute and in-memory tables saved into the run folder."""

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
           clock: Optional[PhaseClock] = None, hooks: Optional[RunHooks] = None):
    """Continue one killed or interrupted run from its latest checkpoint (``clock``, ``hooks``: as for
    :func:`run`; :func:`tuneforge.modes.dispatch.resume` recognises the folders of the modes first)."""
    run_dir = Path(run_dir)
    if not (run_dir / "recipe.yaml").is_file():
        raise TuneforgeError(f"--resume {run_dir}: not a run folder (no recipe.yaml)")
    if read_status(run_dir).get("state") == "completed":
        raise TuneforgeError(f"--resume {run_dir}: this run already completed; start a new one with "
                             f"`tuneforge run {run_dir}/recipe.yaml`")
    _checkpoint_to_resume(run_dir)
    return run(load_recipe(run_dir / "recipe.yaml"), console, quiet, resume_dir=run_dir, clock=clock, hooks=hooks)


def _checkpoint_to_resume(run_dir: Path) -> Path:
    path = latest_checkpoint(run_dir / "checkpoints")
    if path is None:
        raise TuneforgeError(f"--resume {run_dir}: the run folder holds no complete checkpoint (it was stopped "
                             "before its first one, or checkpoints/ was removed); start it again with "
                             f"`tuneforge run {run_dir}/recipe.yaml`")
    return path


# -- the head solver's inputs: frozen features (or the head's captured inputs) and targets --------------------

def head_data(p, shared: bool, precision: str, device):
    """The head's inputs and targets on train and validation for the head solver.

    ``shared``: the model's features are exactly the head's inputs, so the baseline's cached
    features serve (extracted here when the baseline did not run); otherwise the head's
    inputs are captured with a hook.
    """
    bs, dtype = p.recipe.evaluate.batch_size, autocast_dtype(precision)
    out = {}
    for split in ("train", "validation"):
        if split not in p.encoded:
            continue
        if shared:
            if split not in p.features:
                p.features[split], _ = extract_features(p.model, p.encoded[split], bs, device, dtype)
            x = p.features[split]
        else:
            x, _ = head_inputs(p.model, p.encoded[split], bs, device)
        y = p.encoded["train"].targets if split == "train" else getattr(p.data, split).targets
        if split != "train" and p.scaler is not None:
            y = p.scaler.transform(np.asarray(y))
        out[split] = (x, np.asarray(y))
    return HeadData(out["train"], out.get("validation"))


# -- metrics.json's ``train`` record: what training did and cost, counted as it ran ------------------------

def train_record(state, trainer, encoded, recipe, trainable: int, total: int, device,
                 seconds_this_process: Optional[float] = None) -> dict:
    """Seconds (optimizer steps), samples, tokens, steps, epochs run, stops, best step, parameters and peak
    memory. ``seconds_this_process``: after ``--resume``, the steps this process took."""
    return {"seconds": state.seconds, "samples": state.samples, "tokens": state.tokens,
            "samples_per_second": state.samples / state.seconds if state.seconds else 0.0,
            **({"seconds_this_process": seconds_this_process} if seconds_this_process is not None else {}),
            "steps": state.step, "epochs": epochs_run(state, trainer), "epochs_planned": trainer.epochs,
            "stop_reason": state.stop_reason,
            "skipped_batches": state.skipped_batches,
            "best_step": state.best_step, "best_validation": state.best_value,
            "stage_seconds": state.stage_seconds, "prefix_cache": trainer.prefix_cache.describe(),
            "padding_fraction": _padding(encoded, recipe),
            "trainable_parameters": trainable, "total_parameters": total,
            "peak_memory_mb": _peak_memory_mb(device)}


def epochs_run(state, trainer) -> float:
    """Epochs that actually ran (early stopping, pruning or max_steps end some early): whole ones plus the
    share of the last one's batches."""
    return round(state.epoch + (state.batch_in_epoch / trainer.n_batches if trainer.n_batches else 0.0), 3)


def _padding(encoded, recipe) -> Optional[float]:
    """Share of padded token positions in the first epoch's training batches (text only)."""
    if encoded.lengths is None:
        return None
    t = recipe.train
    batches = batch_order(len(encoded), t.batch_size, t.seed, 0,
                          lengths=encoded.lengths if t.group_by_length else None)
    return padding_fraction(encoded.lengths, batches)


def _peak_memory_mb(device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

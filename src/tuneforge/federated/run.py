"""``tuneforge federate``: K clients simulated on this machine by Flower, one run folder at the end.

Order of work (all user mistakes are found before the run folder exists):

1. options and recipe checked (:mod:`.check`); the recipe made into the client recipe
   (local epochs, SGD head);
2. the pipeline's ``prepare`` (data, model, strategy) once on the server side, a
   :class:`~tuneforge.training.Trainer` built to resolve defaults and read the plan: the
   strategy's trainable parameters are what travels, fixed for the run;
3. the training rows dealt out (:func:`~.split.partition`), the run folder written, the
   frozen-probe baseline measured;
4. Flower's simulation engine (Ray) runs the :mod:`.server` app and K :mod:`.client` apps; the
   global model is scored on validation after every round;
5. the final global parameters loaded, the strategy finalised (LoRA merged), test metrics with
   bootstrap intervals, the model saved like any run's, ``metrics.json``, ``history.jsonl``
   (one line per round) and the report.
"""
from __future__ import annotations

import json
import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import torch
from rich.console import Console
from rich.markup import escape

from ..errors import RecipeError
from ..privacy import engine_for
from ..recipe import Recipe, recipe_to_yaml
from ..runs.finish import Finishing, analyses, assemble, complete, final_validation, finalize_model, report, \
    save_model, test, write_metrics
from ..runs.finish import finish as finish_run
from ..runs.phases import PhaseClock
from ..terminal import print_path
from .check import client_recipe, prepared_problems, recipe_problems
from .options import FederatedOptions
from .params import frozen_digest, load_record, ordered, to_record, trainable_by_stage
from .split import class_counts, label_skew, partition
from ..runs.pipeline import _repeatable, prepare
from ..training import build_trainer
from ..training.run_folder import new_run_dir, set_status, write_text
from ..analysis.baselines import baselines_for_run
from ..training.evaluator import SplitEvaluator
from .client import client_app
from .server import ServerRun, make_server_app
from ..training.run_folder import write_json
from ..runs.summary import print_plan
from ..training.history import scalar_metrics


def federate(recipe: Recipe, options: FederatedOptions, console: Optional[Console] = None, quiet: bool = False,
             grid=None, context=None):
    """Run ``recipe`` federated over ``options.clients`` simulated clients; return a ``FinetuneResult``.

    ``grid``/``context``: given by Flower when this runs inside a deployed ServerApp (:mod:`.apps`);
    the clients are then real SuperNodes instead of simulated ones.
    """

    console = console or Console(quiet=quiet)
    clock = PhaseClock()   # where the run's time goes, as a single run's metrics.json says it
    problems = options.problems() + recipe_problems(recipe)
    if problems:
        raise RecipeError(problems=problems)
    p = prepare(client_recipe(recipe, options), console)
    trainer = build_trainer(p.model, p.task, p.recipe, p.strategy, p.encoded["train"], engine=engine_for(p.recipe))
    stages = trainable_by_stage(trainer)
    problems = prepared_problems(p, options, stages)
    if problems:
        raise RecipeError(problems=problems)
    p.recipe = trainer.recipe  # every unset setting now holds the strategy's default; the clients get it as is
    names = ordered(p.model, stages[0])
    parts = partition(p.data.train.targets, options.clients, options.split, p.recipe.train.seed)

    name = (recipe.output.name or recipe.name or f"{recipe.task}-{recipe.strategy.name}") + "-federated"
    run_dir = new_run_dir(recipe.output.dir, name)
    try:
        p.recipe = _repeatable(p.recipe, run_dir)
        write_text(run_dir / "recipe.yaml", recipe_to_yaml(p.recipe))
        set_status(run_dir, "running")
        return _federate_in(p, options, names, parts, run_dir, console, clock, trainer, grid, context)
    except KeyboardInterrupt:
        set_status(run_dir, "interrupted")
        raise
    except BaseException as e:
        set_status(run_dir, "failed", error=str(e))
        raise


def _federate_in(p, options, names, parts, run_dir: Path, console, clock, trainer, grid, context):

    device, precision = trainer.accelerator.device, trainer.precision
    p.model.to(device)
    counts = class_counts(p.data.train.targets, parts, p.data.label_names)
    skew = label_skew(p.data.train.targets, parts)
    sizes = ", ".join(str(len(x)) for x in parts)
    console.print(f"[dim]federated[/dim] {options.clients} clients, split {escape(options.split)} "
                  f"(rows per client: {sizes}; label skew {skew:.2f}), {options.rounds} rounds of "
                  f"{_local(options)}, {options.strategy}")
    travel = sum(p_.numel() for n, p_ in p.model.net.named_parameters() if n in set(names))
    total = sum(p_.numel() for p_ in p.model.net.parameters())
    console.print(f"[dim]federated[/dim] {len(names)} trainable tensors travel ({travel:,} of {total:,} "
                  f"parameters, {travel * 4 / 2**20:.2f} MB per client and direction each round)")
    majority, probe = baselines_for_run(p, run_dir, False, precision, device)
    val_eval = SplitEvaluator(p.task, p.encoded["validation"], p.data.validation.targets, p.data.label_names,
                              p.recipe.evaluate.batch_size, precision, device)
    metric = p.recipe.evaluate.metric or p.task.default_metric()

    def evaluate(server_round, arrays):
        load_record(p.model, arrays, names)
        metrics = val_eval(p.model)
        what = "starting model" if server_round == 0 else "global model"
        console.print(f"[dim]round {server_round}[/dim] {what}: validation {metric} "
                      f"{metrics.get(metric, float('nan')):.4f}")
        return metrics

    plan_rows = trainer.plan.to_dict(p.model.layer_map, trainer.groups)
    write_json(run_dir / "plan.json", plan_rows)
    print_plan(console, plan_rows, trainer)  # the defaults chosen and what trains, as `tuneforge run` shows them
    initial = to_record(p.model, names)
    config = {"frozen-digest": frozen_digest(p.model, set(names)), "options": json.dumps(options.to_dict()),
              "recipe": json.dumps(p.recipe.model_dump(mode="json"))}  # clients rebuild the run from these
    server = ServerRun(options, initial, config, evaluate)
    fl_started = time.perf_counter()
    if grid is None:
        simulate(make_server_app(server), client_app, options.clients)
    else:  # a real deployment: this is the ServerApp, the clients are SuperNodes (see apps.py)
        server.main(grid, context)
    fl_seconds = time.perf_counter() - fl_started
    clock.lap("training")
    load_record(p.model, server.final, names)
    rounds = _round_records(server, metric)
    with open(run_dir / "history.jsonl", "w", encoding="utf-8") as f:
        for r in rounds:
            f.write(json.dumps(r) + "\n")
    federated = {**options.to_dict(), "clients_per_round": options.clients_per_round,
                 "travelling_tensors": names, "travelling_parameters": travel, "total_parameters": total,
                 "rows_per_client": [len(x) for x in parts], "class_counts": counts, "label_skew": skew,
                 "rounds": rounds, "bytes_total": sum(r["bytes_to_clients"] + r["bytes_from_clients"] for r in rounds),
                 "seconds": fl_seconds}
    return finish(p, run_dir, console, clock, metric, federated, majority, probe, device, precision)


def _local(options: FederatedOptions) -> str:
    if options.local_steps:
        return f"{options.local_steps} local steps"
    return f"{options.local_epochs} local epoch" + ("s" if options.local_epochs != 1 else "")


def _round_records(server, metric: str) -> list[dict]:
    """One record per round (0 = the starting model): global validation metrics, clients, bytes."""

    out = []
    for r in sorted(server.global_metrics):
        rec = server.strategy.rounds.get(r, {}) if server.strategy else {}
        clients = rec.get("clients", [])
        examples = sum(c["examples"] for c in clients)
        loss = sum(c["train_loss"] * c["examples"] for c in clients) / examples if examples else None
        out.append({"round": r, "step": r, "train_loss": loss,
                    "validation": scalar_metrics(server.global_metrics[r]), "clients": clients,
                    "bytes_to_clients": rec.get("bytes_to_clients", 0),
                    "bytes_from_clients": rec.get("bytes_from_clients", 0),
                    "received": rec.get("received", [])})
    return out


@contextmanager
def _quiet_flower():
    """Flower's INFO lines and deprecation notes stay out of the terminal (errors still show)."""
    logger = logging.getLogger("flwr")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def simulate(server_app, client_app, clients: int) -> None:
    """Run the apps on Flower's simulation engine: Ray actors of one CPU each (a share of the GPU when
    there is one), so ``min(clients, CPU cores)`` clients train at a time."""
    from flwr.simulation import run_simulation

    cpus = os.cpu_count() or 1
    gpus = 1.0 / min(clients, 4) if torch.cuda.is_available() else 0.0
    backend = {"client_resources": {"num_cpus": 1, "num_gpus": gpus},
               "init_args": {"logging_level": "ERROR", "log_to_driver": False, "num_cpus": cpus,
                             "include_dashboard": False}}
    with _quiet_flower():
        run_simulation(server_app=server_app, client_app=client_app, num_supernodes=clients,
                       backend_config=backend)


def finish(p, run_dir, console, clock, metric, federated, majority, probe, device, precision):
    """Evaluate, save and report the final global model like any run (:mod:`tuneforge.runs.finish`): what
    differs is the ``train`` record (the clients' steps) and ``federated`` (the rounds), and the summary."""
    train = {"seconds": federated["seconds"], "steps": sum(c["steps"] for r in federated["rounds"]
                                                           for c in r["clients"]),
             "trainable_parameters": federated["travelling_parameters"],
             "total_parameters": federated["total_parameters"], "stop_reason": "completed"}
    record = {"baseline": probe, "baseline_majority": majority, "train": lambda: train, "federated": federated}

    def summary(console, metrics):
        _print_summary(console, metrics, metric)
        print_path(console, "run folder", run_dir)

    f = Finishing(p, run_dir, console, device, precision, metric, record,
                  clock=clock, save=p.recipe.output.save_model, summary=summary)
    return finish_run(f, (finalize_model, final_validation, test, analyses, save_model, assemble, write_metrics, report,
                        complete))


def _print_summary(console, metrics: dict, metric: str) -> None:
    fed = metrics["federated"]
    last = fed["rounds"][-1]["validation"].get(metric) if fed["rounds"] else None
    test = metrics["test"].get(metric)
    base = (metrics.get("baseline") or {}).get(metric)
    ci = (metrics.get("test_ci") or {}).get(metric)
    console.print(f"[bold]federated[/bold] {fed['rounds'][-1]['round'] if fed['rounds'] else 0} rounds, "
                  f"{fed['bytes_total'] / 2**20:.2f} MB exchanged; global validation {metric} "
                  f"{last if last is None else round(last, 4)}")
    if test is not None:
        ci_text = f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else ""
        base_text = f" (frozen probe {base:.4f})" if base is not None else ""
        console.print(f"[bold]test[/bold] {metric} {test:.4f}{ci_text}{base_text}")

"""The ``tuneforge`` command line.

    tuneforge run RECIPE.yaml [dotted.key=value ...] [--quiet]
    tuneforge run --resume RUN
    tuneforge validate RECIPE.yaml [dotted.key=value ...]
    tuneforge search RECIPE.yaml [dotted.key=value ...] [--trials N] [--timeout 30m] [--jobs J]
                     [--storage URL] [--study NAME] [--objectives val.macro_f1:max,train.seconds:min] [--dashboard]
    tuneforge lr-find RECIPE.yaml [dotted.key=value ...] [--start 1e-7 --end 10 --steps 100] [--out DIR]
    tuneforge list [models|strategies|regularisers|...] [--verbose]
    tuneforge show strategy lora
    tuneforge demo
    tuneforge compare RECIPE.yaml --strategies linear-probe,full [--folds K]
    tuneforge federate RECIPE.yaml [dotted.key=value ...] --clients K --rounds R [--split iid|dirichlet:ALPHA]
    tuneforge evaluate RUN --data FILE
    tuneforge predict RUN INPUT...
    tuneforge report RUN
    tuneforge export RUN [--onnx [--quantize int8]] [--opset N] [--sentence-transformers] [--check]

User errors print one message and exit with code 2; bugs exit with code 1.

Start-up stays light: this module imports only typer, rich and tuneforge's light modules at the top;
every command imports what it needs (torch, transformers, optuna, flwr, opacus, mlflow...) inside its
own function, so ``--help``, ``list`` (see :mod:`tuneforge.listing_cache`) and usage errors never pay
for them. A new command follows the same rule; ``tests/test_lazy_startup.py`` checks it.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape

from .cli_usage import CLICK_ERRORS, USAGE_ERRORS, show_usage_error
from .discover import print_entry, print_listing
from .errors import TuneforgeError
from .recipe import all_problems, load_recipe
from .runs.phases import PhaseClock
from .terminal import print_path

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Fine-tune pre-trained models from one recipe, and know what you got.")
err_console = Console(stderr=True)
REPO_RECIPES = Path(__file__).resolve().parents[2] / "recipes"


@app.command()
def run(recipe: Optional[Path] = typer.Argument(None, help="recipe YAML (or a run folder)"),
        overrides: Optional[List[str]] = typer.Argument(None, help="dotted.key=value overrides"),
        resume: Optional[Path] = typer.Option(None, "--resume", help="continue this run folder"),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
        folds: Optional[int] = typer.Option(None, "--folds", help="k-fold cross-validation (evaluate.folds)")):
    """Run a recipe and write a new run folder."""
    from .modes.dispatch import resume as resume_run
    from .modes.dispatch import run as run_recipe

    console = Console()
    if resume is not None:
        if recipe is not None:
            raise TuneforgeError("give either a recipe or --resume RUN, not both")
        resume_run(resume, console, quiet, clock=PhaseClock.from_process_start())
        return
    if recipe is None:
        raise TuneforgeError("give a recipe file: tuneforge run RECIPE.yaml [key=value ...]")
    overrides = (overrides or []) + ([f"evaluate.folds={folds}"] if folds is not None else [])
    problems = all_problems(recipe, overrides or [])
    if problems:
        raise TuneforgeError(problems=problems)
    run_recipe(load_recipe(recipe, overrides or []), console, quiet, clock=PhaseClock.from_process_start())


@app.command()
def validate(recipe: Path = typer.Argument(..., help="recipe YAML"),
             overrides: Optional[List[str]] = typer.Argument(None, help="dotted.key=value overrides")):
    """Check a recipe without loading any model; list every problem."""

    problems = all_problems(recipe, overrides or [])
    if problems:
        raise TuneforgeError(problems=problems)
    Console().print(f"[green]ok[/green] {recipe} is valid")
    from .training.resolve import resolved_defaults
    for line in resolved_defaults(recipe, overrides or []):
        Console().print(f"[dim]default[/dim] {escape(line)}")


@app.command("list")
def list_(what: Optional[str] = typer.Argument(None, help="models, tasks, strategies, regularisers, metrics, optimizers, "
                                                          "schedulers, datasets, augmentations, trackers (default: all)"),
          verbose: bool = typer.Option(False, "--verbose", "-v", help="each entry's options, types and defaults")):
    """What a recipe can name, one line each (every registry, grouped, without an argument)."""

    print_listing(Console(), what, verbose)


@app.command()
def show(kind: str = typer.Argument(..., help="strategy, regulariser, model, task, metric, optimizer, scheduler, "
                                             "dataset, augmentation"),
         name: str = typer.Argument(..., help="its registered name, e.g. lora")):
    """One registered component with its options (type, default, description): tuneforge show strategy lora."""

    print_entry(Console(), kind, name)


@app.command()
def demo(quiet: bool = typer.Option(False, "--quiet", "-q"),
         overrides: Optional[List[str]] = typer.Argument(None, help="dotted.key=value overrides")):
    """Fine-tune MiniLM-L6 on real tweets (recipes/demo.yaml) and compare with the pre-trained baseline."""
    from .modes.dispatch import run as run_recipe

    path = REPO_RECIPES / "demo.yaml"
    if not path.is_file():
        raise TuneforgeError(f"the demo recipe {path} is missing; run from a checkout of tuneforge")
    run_recipe(load_recipe(path, overrides or []), Console(), quiet, clock=PhaseClock.from_process_start())


@app.command()
def compare(recipe: Path = typer.Argument(..., help="recipe YAML"),
            overrides: Optional[List[str]] = typer.Argument(None, help="dotted.key=value overrides"),
            strategies: str = typer.Option(..., "--strategies", help="comma-separated, options after colons: linear-probe,full,freeze:top_blocks=2"),
            folds: Optional[int] = typer.Option(None, "--folds", help="k-fold cross-validation per strategy"),
            quiet: bool = typer.Option(False, "--quiet", "-q")):
    """Run several strategies on identical splits and seeds; print and save a leaderboard."""
    from .modes.compare import compare as run_compare

    problems = all_problems(recipe, overrides or [])
    if problems:
        raise TuneforgeError(problems=problems)
    names = [s.strip() for s in strategies.split(",") if s.strip()]
    run_compare(load_recipe(recipe, overrides or []), names, folds, Console(), quiet)


@app.command()
def federate(recipe: Path = typer.Argument(..., help="recipe YAML (what each client trains)"),
             overrides: Optional[List[str]] = typer.Argument(None, help="dotted.key=value overrides"),
             clients: int = typer.Option(4, "--clients", help="simulated clients (Flower SuperNodes)"),
             rounds: int = typer.Option(3, "--rounds", help="server rounds"),
             split: str = typer.Option("iid", "--split", help="iid or dirichlet:ALPHA (by label; smaller ALPHA = "
                                                              "more skewed clients)"),
             local_epochs: int = typer.Option(1, "--local-epochs", help="epochs over its own rows per client and round"),
             local_steps: Optional[int] = typer.Option(None, "--local-steps", help="optimizer steps per client and "
                                                                                  "round instead of epochs"),
             strategy: str = typer.Option("fedavg", "--strategy", help="fedavg or fedprox"),
             mu: float = typer.Option(0.01, "--mu", help="fedprox: weight of the proximal term"),
             fraction: float = typer.Option(1.0, "--fraction", help="share of the clients that train each round"),
             quiet: bool = typer.Option(False, "--quiet", "-q")):
    """Federated fine-tuning: Flower simulates K clients with their own (non-IID) shares of the data."""
    from .federated.options import FederatedOptions
    from .federated.run import federate as run_federated

    problems = all_problems(recipe, overrides or [])
    if problems:
        raise TuneforgeError(problems=problems)
    options = FederatedOptions(clients=clients, rounds=rounds, split=split, local_epochs=local_epochs,
                               local_steps=local_steps, strategy=strategy, mu=mu, fraction=fraction)
    run_federated(load_recipe(recipe, overrides or []), options, Console(), quiet)


@app.command()
def evaluate(run_dir: Path = typer.Argument(..., help="a finished run folder"),
             data: Path = typer.Option(..., "--data", help="file with the same columns as the run's data"),
             bootstrap: Optional[int] = typer.Option(None, "--bootstrap", help="resamples (default: the recipe's)")):
    """Evaluate a finished run's model on new data."""
    from .artefacts.evaluate_run import evaluate_run

    evaluate_run(run_dir, data, Console(), bootstrap)


@app.command()
def predict(run_dir: Path = typer.Argument(..., help="a finished run folder"),
            inputs: List[str] = typer.Argument(..., help="texts, or image or audio files; a text pair as \"first ||| second\"")):
    """Print predictions (with class probabilities) of a finished run's model."""
    from rich.table import Table

    from .artefacts.evaluate_run import predict_cells

    cells = list(predict_cells(run_dir, inputs))
    with_probs = any(probs for _, probs in cells)  # regression has no probabilities to show
    table = Table("input", "prediction", *(["probabilities"] if with_probs else []))
    for text, (prediction, probs) in zip(inputs, cells):
        table.add_row(escape(text), escape(prediction), *([escape(probs)] if with_probs else []))
    Console().print(table)


@app.command()
def report(folder: Path = typer.Argument(..., help="a run folder or a comparison folder")):
    """Rebuild report.html from a run (or comparison) folder alone."""
    from .continual import report as _sequence_page  # noqa: F401  (registers the continual sequence's page)
    from .report import write_comparison_report, write_run_report

    if not folder.is_dir():
        raise TuneforgeError(f"{folder} is not a folder")
    path = write_comparison_report(folder) if (folder / "leaderboard.json").is_file() else write_run_report(folder)
    print_path(Console(), "report", path)


@app.command()
def export(run_dir: Path = typer.Argument(..., help="a finished run folder"),
           onnx: bool = typer.Option(False, "--onnx", help="also write model/model.onnx, checked with onnxruntime "
                                                           "against PyTorch on the run's own examples"),
           opset: Optional[int] = typer.Option(None, "--opset", min=7, help="ONNX opset (default: the exporter's)"),
           tolerance: float = typer.Option(1e-4, "--tolerance", min=0.0, help="largest accepted |onnxruntime - "
                                           "PyTorch|, relative to the outputs' scale when they exceed 1"),
           sentence_transformers: bool = typer.Option(False, "--sentence-transformers", help="also write "
                                                      "sentence-transformers/: the text model's body and pooling as "
                                                      "an embedding model, checked against tuneforge's features"),
           check: bool = typer.Option(False, "--check", help="load every artefact of the run as its card says, "
                                      "compare with tuneforge on the test split's first rows, one line each; exit "
                                      "code 3 when any differs or cannot be loaded (alone: writes nothing)"),
           quantize: Optional[str] = typer.Option(None, "--quantize", help="with --onnx: also write model/"
                                                  "model.int8.onnx (int8), scored beside fp32 and timed")):
    """Write the model cards (model/README.md, adapter/README.md) and, with --onnx, an ONNX model (with
    --quantize int8, its int8 copy, scored and timed); with --sentence-transformers, an embedding model; with
    --check, check every artefact against tuneforge."""
    from .artefacts.export_run import export_run
    from .artefacts.export_check import check_run
    from .artefacts.embeddings_export import export_sentence_transformers

    if sentence_transformers:   # first: a run it refuses is left as it was
        export_sentence_transformers(run_dir, console=Console())
    if onnx or quantize or sentence_transformers or not check:
        export_run(run_dir, onnx=onnx, opset=opset, tolerance=tolerance, console=Console(), quantize=quantize)
    if check:
        raise SystemExit(check_run(run_dir, console=Console()))


@app.command("lr-find")
def lr_find(recipe: Path = typer.Argument(..., help="recipe YAML"),
            overrides: Optional[List[str]] = typer.Argument(None, help="dotted.key=value overrides"),
            start: float = typer.Option(1e-7, "--start", help="lowest learning rate swept"),
            end: float = typer.Option(10.0, "--end", help="highest learning rate swept"),
            steps: int = typer.Option(100, "--steps", help="optimizer steps (one learning rate each)"),
            out: Optional[Path] = typer.Option(None, "--out", help="folder for lr_find.png/json "
                                                                  "(default: a new folder in output.dir)")):
    """Learning-rate range test: loss against lr, plotted, with a suggested optimizer.lr."""
    from .modes.lr_find import lr_find_command

    problems = all_problems(recipe, overrides or [])
    if problems:
        raise TuneforgeError(problems=problems)
    lr_find_command(load_recipe(recipe, overrides or []), Console(), start, end, steps, out)


@app.command()
def search(recipe: Path = typer.Argument(..., help="recipe YAML (its search: section, or the default space)"),
           overrides: Optional[List[str]] = typer.Argument(None, help="dotted.key=value overrides"),
           trials: Optional[int] = typer.Option(None, "--trials", min=1, help="the study's total trials (search.trials)"),
           timeout: Optional[str] = typer.Option(None, "--timeout", help="no new trial after this long: 30m, 2h, seconds"),
           jobs: int = typer.Option(1, "--jobs", min=1, help="worker processes on this machine"),
           storage: Optional[str] = typer.Option(None, "--storage", help="database URL (default: SQLite in the "
                                                 "study folder); postgresql+psycopg://... to share across machines"),
           study: Optional[str] = typer.Option(None, "--study", help="study name (default: the recipe's name); "
                                               "also its folder under output.dir"),
           objectives: Optional[str] = typer.Option(None, "--objectives", help="comma-separated metric:max|min, e.g. "
                                                    "val.macro_f1:max,train.seconds:min"),
           dashboard: bool = typer.Option(False, "--dashboard", help="serve optuna-dashboard on the study while it runs"),
           port: int = typer.Option(8080, "--port", help="the dashboard's port"),
           quiet: bool = typer.Option(False, "--quiet", "-q"),
           worker: bool = typer.Option(False, "--worker", hidden=True, help="only run trials (a --jobs worker)")):
    """Search hyper-parameters and the strategy itself with Optuna; measure the best once on the test split."""
    from .search.run import run_search

    objs = [o.strip() for o in objectives.split(",") if o.strip()] if objectives is not None else None
    run_search(recipe, overrides or [], trials=trials, timeout=timeout, objectives=objs, study=study,
               storage=storage, jobs=jobs, worker=worker, quiet=quiet, dashboard=port if dashboard else None)


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # a terminated run is marked "interrupted" and can be resumed


def main(argv: Optional[list[str]] = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import signal
    import threading
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        app(args=argv, standalone_mode=False, prog_name="tuneforge")
    except USAGE_ERRORS as e:
        return show_usage_error(e, err_console)
    except TuneforgeError as e:
        err_console.print(f"[bold red]error:[/bold red] {escape(str(e))}", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except SystemExit as e:
        return int(e.code or 0)
    except CLICK_ERRORS as e:  # e.g. an unreadable file given to a click.File option
        err_console.print(f"[bold red]error:[/bold red] {escape(e.format_message())}", highlight=False,
                          soft_wrap=True)
        return 2
    except typer.Abort:
        return 130
    return 0


def entry() -> None:
    _exit(main())


def _exit(code: int) -> None:
    """End the process without tearing the interpreter down.

    When :func:`main` returns, the command has closed every file it wrote and ended its trackers; what
    ordinary shutdown still does is free torch's and transformers' objects one by one, 1.5 s after a
    MiniLM run on a 2-core CPU (bench/whole.py), for nothing the user sees. The exit handlers still run
    (logging, MLflow, weakref finalizers, ``atexit`` registrations), and the standard streams are
    flushed; a command that leaves a non-daemon thread running exits the ordinary way, waiting for it.
    """
    import atexit
    import threading

    others = [t for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive() and not t.daemon]
    if others:
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):   # a closed pipe: nothing left to write to
            pass
    os._exit(code)


if __name__ == "__main__":
    entry()

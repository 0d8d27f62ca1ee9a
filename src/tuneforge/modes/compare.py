"""``tuneforge compare``: several strategies on identical splits and seeds, and a leaderboard.

Each strategy runs the same recipe (same data, splits, seed, optimizer, schedule), only
``strategy`` differs; options in the recipe's ``strategy`` section are kept for the
strategy they belong to. The leaderboard ranks by the monitored metric and says whether
each strategy's difference to the best is significant: a paired bootstrap on the same
test examples (hold-out), or a paired t-test across folds (``--folds K``).

The comparison folder ``<output.dir>/compare-<name>-<time>/`` holds ``runs/`` (one run
folder per strategy), ``leaderboard.json`` and ``report.html``. It is created by the
first run, after that run's recipe, data and model have been checked, so a user error
leaves nothing behind.

Example::

    board = compare("recipes/demo.yaml", ["linear-probe", "full", "freeze"])
    board["rows"][0]["strategy"]        # the best
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from rich.console import Console
from rich.markup import escape

from ..errors import RecipeError
from ..evaluation import greater_is_better
from ..recipe import Recipe, check_recipe
from ..recipe.schema import StrategySection
from ..report.leaderboard import leaderboard_cells, leaderboard_header  # noqa: F401  (re-exported)
from ..training.distributed import is_main_process
from ..report.leaderboard import baseline_warnings, display_rows, step0_warnings  # noqa: F401  (re-exported)
from .compare_baselines import mark_rows, reference_rows
from ..terminal import print_path
from ..analysis.extras import load_outputs
from ..training.run_folder import write_json
from ..strategies import STRATEGIES
from ..report import write_comparison_report
from ..tasks import TASKS
from .dispatch import run
from ..terminal import Column, fit_table


def parse_strategy_spec(spec: str) -> tuple[str, dict]:
    """``"freeze:top_blocks=2"`` -> ``("freeze", {"top_blocks": 2})``; options are ``:``-separated."""
    import yaml

    name, *parts = spec.strip().split(":")
    options = {}
    for part in parts:
        if "=" not in part:
            raise RecipeError(f"--strategies: {spec!r}: options are written name:key=value (e.g. freeze:top_blocks=2)")
        key, value = part.split("=", 1)
        options[key.strip()] = yaml.safe_load(value)
    return name, options


def strategy_variants(recipe: Recipe, strategies: Sequence[str], root: Path, folds: Optional[int]) -> dict:
    """``{strategy: recipe}``, each checked; raises one RecipeError listing every problem."""

    problems, variants = [], {}
    for spec in strategies:
        name, options = parse_strategy_spec(spec)
        if name not in STRATEGIES:
            problems.append(f"--strategies: {STRATEGIES.unknown_message(name)}")
            continue
        if options:
            section = StrategySection(name=name, **options)
        else:
            section = recipe.strategy if recipe.strategy.name == name else StrategySection(name=name)
        evaluate = recipe.evaluate.model_copy(update={"folds": folds}) if folds else recipe.evaluate
        variant = recipe.model_copy(update={"strategy": section, "evaluate": evaluate, "output":
                                            recipe.output.model_copy(update={"dir": str(root / "runs"), "name": spec})})
        try:
            check_recipe(variant)
        except RecipeError as e:
            problems += [f"{spec}: {p}" for p in e.problems]
        variants[spec] = variant
    if len(set(strategies)) != len(strategies):
        problems.append("--strategies: a strategy is listed twice")
    if problems:
        raise RecipeError(problems=problems)
    return variants


def _comparison_dir(recipe: Recipe) -> Path:
    base = Path(recipe.output.dir) / f"compare-{recipe.name or recipe.task}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while path.exists():
        path, n = Path(f"{base}-{n}"), n + 1
    return path


def _row(name: str, metrics: dict) -> dict:
    cv = "folds" in metrics
    per_fold = metrics.get("per_fold", [])
    train = [f["train"] for f in per_fold] if cv else [metrics["train"]]
    retention = [f.get("retention", {}) for f in per_fold] if cv else [metrics.get("retention") or {}]
    scores = [r.get("score") for r in retention if r and r.get("score") is not None]
    return {"strategy": name, "run_dir": metrics["run_dir"],
            "test": {m: s["mean"] for m, s in metrics["folds"].items()} if cv else metrics.get("test", {}),
            "test_std": {m: s["std"] for m, s in metrics["folds"].items()} if cv else None,
            "test_folds": {m: s["values"] for m, s in metrics["folds"].items()} if cv else None,
            "test_ci": None if cv else metrics.get("test_ci"),
            "retention": float(np.mean(scores)) if scores else None,
            "train_seconds": float(sum(t["seconds"] for t in train)),
            "peak_memory_mb": float(max(t["peak_memory_mb"] for t in train)),
            "trainable_parameters": int(train[0]["trainable_parameters"]),
            "total_parameters": int(train[0]["total_parameters"]),
            "step0_model": step0_model(per_fold if cv else [metrics])}


def step0_model(runs: list[dict]) -> Optional[dict]:
    """None when every run (fold) hands back a trained model; else ``{"runs", "of", "training_discarded",
    "why"}``: how many hand back their step-0 model, whether any of them trained and discarded it, and the
    first such run's ``final_model.why``."""
    finals = [m.get("final_model") or {} for m in runs]
    step0 = [f for f in finals if f.get("is_step0")]
    if not step0:
        return None
    discarded = [f for f in step0 if f.get("training_discarded")]
    return {"runs": len(step0), "of": len(finals), "training_discarded": bool(discarded),
            "why": (discarded or step0)[0].get("why", "")}


def _significance(rows: list[dict], best: dict, metric: str, task, recipe: Recipe) -> None:
    from scipy.stats import ttest_rel

    alpha = 1.0 - recipe.evaluate.confidence
    for row in rows:
        if row is best:
            row["vs_best"] = None
            continue
        if row["test_folds"] is not None:
            a, b = np.asarray(row["test_folds"][metric]), np.asarray(best["test_folds"][metric])
            p = float(ttest_rel(a, b).pvalue) if np.any(a != b) else 1.0
            row["vs_best"] = {"difference": float(a.mean() - b.mean()), "p_value": p,
                              "method": "paired t-test across folds"}
        else:
            mine, theirs = load_outputs(Path(row["run_dir"])), load_outputs(Path(best["run_dir"]))
            if mine is None or theirs is None:
                row["vs_best"] = None
                continue
            res = task.paired_bootstrap(mine[1], mine[0], theirs[0], metric,
                                        recipe.evaluate.bootstrap or 1000, recipe.evaluate.confidence,
                                        recipe.train.seed)
            row["vs_best"] = {**res, "method": "paired bootstrap on the same test examples"}
        p = row["vs_best"]["p_value"]
        row["vs_best"]["significant"] = bool(np.isfinite(p) and p < alpha)


def compare(recipe: Recipe, strategies: Sequence[str], folds: Optional[int] = None,
            console: Optional[Console] = None, quiet: bool = False) -> dict:
    """Run every strategy, write ``leaderboard.json`` and ``report.html``; return the leaderboard."""

    console = console or Console(quiet=quiet)
    root = _comparison_dir(recipe)
    variants = strategy_variants(recipe, strategies, root, folds)
    task = TASKS.get(recipe.task)
    metric = recipe.evaluate.metric or task.default_metric()
    results = {}
    for name, variant in variants.items():
        console.rule(f"strategy {name}")
        results[name] = run(variant, console, quiet).metrics
    rows = [_row(name, m) for name, m in results.items()]
    sign = 1 if greater_is_better(metric) else -1
    rows.sort(key=lambda r: -sign * r["test"].get(metric, np.nan) if np.isfinite(r["test"].get(metric, np.nan))
              else np.inf)
    _significance(rows, rows[0], metric, task, recipe)
    mark_rows(rows, results, task, metric, sign > 0, recipe.evaluate, recipe.train.seed)
    first = next(iter(results.values()))
    board = {"recipe": recipe.name or recipe.task, "task": recipe.task, "model": recipe.model.name,
             "columns": task.describe(), "metric": metric, "greater_is_better": sign > 0, "folds": folds,
             "confidence": recipe.evaluate.confidence, "seed": recipe.train.seed, "rows": rows,
             "baseline": first.get("baseline") if not folds else None,
             "baseline_majority": first.get("baseline_majority") if not folds else None,
             "reference_rows": reference_rows(results, task, recipe.evaluate, recipe.train.seed),
             "none_beats_baseline": not any(r.get("beats_baseline") for r in rows),
             "retention_measure": retention_measure(first),
             "comparison_dir": str(root)}
    write_json(root / "leaderboard.json", board)
    print_leaderboard(console, board)
    path = write_comparison_report(root, board) if is_main_process() else root / "report.html"
    print_path(console, "leaderboard", root / "leaderboard.json")
    print_path(console, "report", path)
    return board


def retention_measure(metrics: dict) -> str:
    """What the leaderboard's retention column measures, in one line ('' when it is not measured)."""
    r = metrics.get("retention") or next((f.get("retention") for f in metrics.get("per_fold", [])
                                          if f.get("retention")), None) or {}
    if "score" not in r:
        return ""
    if r.get("default"):
        return f"{r['measure']} ({r['meaning']})"
    if (r.get("source_task") or {}).get("before"):
        return "source-task accuracy of the pre-trained probe, after / before fine-tuning"
    if r.get("original_head_agreement") is not None:
        return "share of the original classifier's predictions unchanged on the fine-tuned backbone"
    return "rank correlation of pairwise embedding similarities, pre-trained vs fine-tuned"


_DROP_FIRST = {"peak MB": 5, "retention": 4, "train s": 3, "trainable / total params": 3}


def leaderboard_priority(board: dict, header: str) -> int:
    """How readily a narrow terminal leaves a column out (0: never; larger: sooner): the strategy,
    the ranking metric and the difference to the best stay; other metrics and costs go first."""
    if header == "strategy" or header.startswith(f"{board['metric']} ("):
        return 0
    if header.startswith("Δ "):
        return 1
    return _DROP_FIRST.get(header, 2)


def print_leaderboard(console: Console, board: dict) -> None:

    columns = [Column(h, leaderboard_priority(board, h), justify="left" if i == 0 else "right")
               for i, h in enumerate(leaderboard_header(board))]
    rows = [leaderboard_cells(board, row) for row in display_rows(board)]
    title = f"leaderboard · {board['model']} · {board['task']} · ranked by {board['metric']}"
    console.print(fit_table(columns, rows, console.width, title=title))
    if board.get("retention_measure"):
        console.print(f"[dim]retention[/dim] {escape(board['retention_measure'])}")
    for line in baseline_warnings(board) + step0_warnings(board):
        console.print(f"[bold yellow]warning[/bold yellow] {escape(line)}")



"""tuneforge search end to end on a tiny model: totals, resume, failures, pruning, best.yaml, memory."""
import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from search.conftest import search_recipe
from tuneforge.errors import RecipeError, TuneforgeError
from tuneforge.search.run import run_search

REPO = Path(__file__).resolve().parents[2]


def _study(out, name="tiny-study"):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{out / name / 'study.db'}")


def _cli(args, cwd, env_extra=None, timeout=600):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO / "src"), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "tuneforge.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_search_runs_the_total_then_measures_the_best_once_on_test(bert_dir, search_csv, tmp_path):
    recipe = search_recipe(bert_dir, search_csv, tmp_path)
    summary = run_search(recipe, quiet=True)
    study = _study(tmp_path)
    assert len(study.trials) == 3 and summary["counts"]["complete"] + summary["counts"]["pruned"] == 3
    assert {t.params["optimizer.lr"] for t in study.trials} == {3e-2, 1e-6}   # (search.seed 5 draws both)
    best = summary["best"]
    assert best["params"]["optimizer.lr"] == 3e-2          # the rate that learns wins
    folder = tmp_path / "tiny-study"
    for name in ("best.yaml", "trials.csv", "search.json", "report.html", "recipe.yaml"):
        assert (folder / name).is_file(), name
    # trials never saw the test split; the final run did, once
    for trial_dir in (folder / "trials").iterdir():
        assert json.loads((trial_dir / "metrics.json").read_text())["test"] == {}
    final = summary["final"]
    assert final["test"]["macro_f1"] > 0.5 and "macro_f1" in final["test_ci"] and final["baseline"]
    assert final["reproduced"]["ok"], final["reproduced"]
    # best.yaml validates and repeats the best trial: same validation score
    tree = yaml.safe_load((folder / "best.yaml").read_text())
    assert "search" not in tree and tree["optimizer"]["lr"] == 3e-2
    from tuneforge.recipe import all_problems
    assert all_problems(folder / "best.yaml") == []
    from tuneforge.recipe import load_recipe
    from tuneforge.runs.pipeline import run
    again = run(load_recipe(folder / "best.yaml", [f"output.dir={tmp_path / 'again'}", "evaluate.report=false"]),
                quiet=True)
    assert again.metrics["validation"]["macro_f1"] == pytest.approx(best["values"][0], abs=1e-6)
    # the same command again: the study is complete, nothing new runs; a larger total extends it
    run_search(recipe, quiet=True)
    assert len(_study(tmp_path).trials) == 3
    run_search(recipe, trials=4, quiet=True)
    assert len(_study(tmp_path).trials) == 4


def test_a_failing_trial_is_recorded_and_the_study_goes_on(bert_dir, search_csv, tmp_path):
    from tuneforge.search.study import open_study, prepare_search
    from tuneforge.search.worker import work

    search = {"strategy.top_blocks": {"choice": [1, 99]}, "trials": 3, "pruner": "none"}
    recipe = search_recipe(bert_dir, search_csv, tmp_path, search=search, **{"strategy.name": "freeze",
                                                                             "optimizer.lr": 3e-2})
    ctx = prepare_search(recipe)
    open_study(ctx)
    for blocks in (99, 1, 99):      # 99 blocks: the model has 3, so that trial fails when it builds its plan
        ctx.study.enqueue_trial({"strategy.top_blocks": blocks})
    assert work(ctx) == "complete"
    trials = sorted(ctx.study.trials, key=lambda t: t.number)
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE, TrialState.FAIL]
    assert all("only 3 blocks below the head" in trials[i].user_attrs["error"] for i in (0, 2))


def test_the_same_error_three_times_stops_the_search(bert_dir, search_csv, tmp_path):
    search = {"strategy.top_blocks": {"choice": [99]}, "trials": 6, "pruner": "none"}
    recipe = search_recipe(bert_dir, search_csv, tmp_path, search=search, **{"strategy.name": "freeze",
                                                                             "optimizer.lr": 3e-2})
    with pytest.raises(TuneforgeError, match="last 3 trials failed with the same error"):
        run_search(recipe, quiet=True)
    assert len(_study(tmp_path).trials) == 3


def test_pruning_stops_a_bad_trial_early_and_keeps_its_curve(bert_dir, search_csv, tmp_path):
    from tuneforge.search.study import open_study, prepare_search
    from tuneforge.search.worker import work

    recipe = search_recipe(bert_dir, search_csv, tmp_path, **{"train.eval_every_steps": 2})
    recipe["search"].update({"trials": 2, "pruner": "median"})
    ctx = prepare_search(recipe)
    open_study(ctx)
    ctx.study.enqueue_trial({"optimizer.lr": 3e-2})
    ctx.study.enqueue_trial({"optimizer.lr": 1e-6})
    work(ctx)
    good, bad = sorted(ctx.study.trials, key=lambda t: t.number)
    assert good.state == TrialState.COMPLETE
    assert bad.state == TrialState.PRUNED
    steps = good.user_attrs["steps"]
    assert bad.user_attrs["pruned_at_step"] < steps
    curve = [json.loads(l) for l in (ctx.study_dir / bad.user_attrs["trial_dir"] / "history.jsonl").read_text().splitlines()]
    assert 1 < len(curve) and curve[-1]["step"] == bad.user_attrs["pruned_at_step"]
    assert max(bad.intermediate_values) == bad.user_attrs["pruned_at_step"]
    ran = json.loads((ctx.study_dir / bad.user_attrs["trial_dir"] / "metrics.json").read_text())["train"]
    assert ran["epochs"] < ran["epochs_planned"] == 3          # metrics.json says how much actually ran


def test_a_killed_search_resumes_and_reruns_the_interrupted_trial(bert_dir, search_csv, tmp_path):
    recipe = search_recipe(bert_dir, search_csv, tmp_path, search={"optimizer.lr": {"log_uniform": [1e-2, 3e-2]},
                                                                   "trials": 3, "pruner": "none"})
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    # 3 epochs x 8 steps per trial: step 30 is inside the second trial
    killed = _cli(["search", str(path), "--quiet"], tmp_path, {"TUNEFORGE_FAULT": "step:30"})
    assert killed.returncode != 0
    study = _study(tmp_path)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.RUNNING]
    interrupted = study.trials[1].params
    done = _cli(["search", str(path), "--quiet"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    trials = sorted(_study(tmp_path).trials, key=lambda t: t.number)
    numbers = [t.number for t in trials]
    assert numbers == list(range(len(numbers)))
    assert trials[1].state == TrialState.FAIL and "error" not in trials[1].user_attrs   # not counted
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 3
    assert trials[2].params == interrupted                                                # run again, same values
    assert json.loads((tmp_path / "tiny-study" / "search.json").read_text())["counts"]["interrupted"] == 1


def run_two_workers(path, cwd, study_loader, extra=(), timeout=900):
    """Two `tuneforge search` commands started at once on one study, as on two machines; returns its trials."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "tuneforge.cli", "search", str(path), "--quiet", *extra]
    procs = [subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=timeout)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(o[-3000:] for o in outs)
    return study_loader().trials


def run_workers_in_turn(path, cwd, study_loader, extra=(), totals=(2, 4)):
    """`tuneforge search` started again and again on one study (a worker joining later, on another machine): each
    command raises the study's total to the next of ``totals``; returns the study's trials."""
    for total in totals:
        done = _cli(["search", str(path), "--quiet", "--trials", str(total), *extra], cwd)
        assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
        assert "Warning" not in done.stderr, done.stderr[-3000:]        # --quiet: not even Optuna's
    return study_loader().trials


def assert_distinct_points(trials, workers):
    trials = [t for t in trials if not t.user_attrs.get("surplus")]
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    points = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(points)) == len(points), points                   # no worker repeats another's draws
    assert len({t.user_attrs["worker"] for t in trials}) == workers


def test_workers_on_one_sqlite_study_draw_distinct_points(bert_dir, search_csv, tmp_path):
    recipe = search_recipe(bert_dir, search_csv, tmp_path, search={"optimizer.lr": {"log_uniform": [1e-2, 3e-2]},
                                                                   "trials": 2, "pruner": "none",
                                                                   "startup_trials": 10})
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    # two started separately (a machine joining later): both run trials, none repeats the other's values
    trials = run_workers_in_turn(path, tmp_path, lambda: _study(tmp_path))
    assert len(trials) == 4
    assert_distinct_points(trials, workers=2)
    # then two at once: which one runs how many is timing (one may finish before the other starts)
    path.write_text(yaml.safe_dump({**recipe, "search": {**recipe["search"], "trials": 6}}))
    trials = [t for t in run_two_workers(path, tmp_path, lambda: _study(tmp_path)) if not t.user_attrs.get("surplus")]
    assert len(trials) == 6
    assert_distinct_points(trials, workers=len({t.user_attrs["worker"] for t in trials}))


def test_each_trial_draws_from_its_own_seed_whichever_worker_asks():
    from tuneforge.search.storage import make_sampler

    for kind in ("random", "tpe"):
        storage = optuna.storages.InMemoryStorage()
        first = optuna.create_study(storage=storage, study_name="s", sampler=make_sampler(kind, 7, 10))
        a = first.ask()
        a_x = a.suggest_float("x", 0.0, 1.0)
        first.tell(a, a_x)
        # a second worker joins: a fresh sampler with the same seed, on the same study
        joined = optuna.load_study(storage=storage, study_name="s", sampler=make_sampler(kind, 7, 10))
        b = joined.ask()
        assert b.number == 1 and b.suggest_float("x", 0.0, 1.0) != a_x
        # and the same study made again from the same recipe draws the same points
        again = optuna.create_study(sampler=make_sampler(kind, 7, 10))
        c, d = again.ask(), None
        assert c.suggest_float("x", 0.0, 1.0) == a_x
        again.tell(c, a_x)
        d = again.ask()
        assert d.suggest_float("x", 0.0, 1.0) == b.params["x"]


def test_jobs_starts_local_workers_on_the_same_study(bert_dir, search_csv, tmp_path):
    recipe = search_recipe(bert_dir, search_csv, tmp_path, search={"optimizer.lr": {"log_uniform": [1e-2, 3e-2]},
                                                                   "trials": 3, "pruner": "none"})
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    done = _cli(["search", str(path), "--jobs", "2"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 workers on this machine" in done.stdout
    assert (tmp_path / "tiny-study" / "workers" / "worker-1.log").is_file()
    trials = [t for t in _study(tmp_path).trials if not t.user_attrs.get("surplus")]
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 3
    assert len({t.number for t in trials}) == len(trials)


def test_multi_objective_reports_the_pareto_front(bert_dir, search_csv, tmp_path):
    recipe = search_recipe(bert_dir, search_csv, tmp_path)
    summary = run_search(recipe, objectives=["val.macro_f1:max", "train.seconds:min"], quiet=True)
    study = _study(tmp_path)
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert summary["pareto"] and set(summary["pareto"]) <= {t.number for t in study.trials}
    assert all(len(t.values) == 2 for t in study.trials if t.state == TrialState.COMPLETE)


def test_memory_stays_flat_over_twenty_trials(bert_dir, search_csv, tmp_path):
    import gc
    import weakref

    from tuneforge.training.callbacks import Callback

    models = []

    class Watch(Callback):
        def on_train_start(self, trainer):
            models.append(weakref.ref(trainer.unwrapped.net))

    from tuneforge.search.study import open_study, prepare_search
    from tuneforge.search.worker import work

    recipe = search_recipe(bert_dir, search_csv, tmp_path, search={"optimizer.lr": {"log_uniform": [1e-2, 3e-2]},
                                                                   "trials": 20, "pruner": "none"},
                           **{"train.max_steps": 2, "train.epochs": 1})
    ctx = prepare_search(recipe)
    open_study(ctx)
    original = ctx.hooks_for_trial
    ctx.hooks_for_trial = lambda cbs: original(list(cbs) + [Watch()])
    work(ctx)
    gc.collect()
    assert len(models) == 20 and all(ref() is None for ref in models)     # no trial's model survives it
    rss = [t.user_attrs["rss_mb"] for t in sorted(ctx.study.trials, key=lambda t: t.number)]
    assert max(rss[10:]) - rss[5] < 60, rss                               # no growth from trial to trial


def test_bad_search_inputs_end_in_one_message(bert_dir, search_csv, tmp_path):
    recipe = search_recipe(bert_dir, search_csv, tmp_path)
    with pytest.raises(RecipeError, match="search.timeout"):
        run_search({**recipe, "search": {**recipe["search"], "timeout": "soon"}}, quiet=True)
    with pytest.raises(RecipeError, match="macro_f2.*did you mean"):
        run_search(recipe, objectives=["val.macro_f2:max"], quiet=True)
    with pytest.raises(TuneforgeError, match="cannot open the study database"):
        run_search(recipe, storage="nosuchdb://x", quiet=True)
    with pytest.raises(RecipeError, match="search strategy.name"):
        run_search(search_recipe(bert_dir, search_csv, tmp_path, **{"strategy.name": "auto"}), quiet=True)
    no_val = search_recipe(bert_dir, search_csv, tmp_path, **{"data.validation": None})
    with pytest.raises(RecipeError, match="data.validation"):
        run_search(no_val, quiet=True)
    run_search(recipe, trials=1, quiet=True)
    changed = search_recipe(bert_dir, search_csv, tmp_path, search={"optimizer.lr": {"choice": [1e-3]}})
    with pytest.raises(TuneforgeError, match="different recipe or search space"):
        run_search(changed, quiet=True)


def test_cli_validate_checks_the_space(bert_dir, search_csv, tmp_path):
    recipe = search_recipe(bert_dir, search_csv, tmp_path, search={"optimizer.lr": {"log_uniform": [0, 1]}})
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe))
    done = _cli(["validate", str(path)], tmp_path)
    assert done.returncode == 2 and "search.optimizer.lr" in done.stderr and "> 0" in done.stderr

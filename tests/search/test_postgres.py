"""Two workers on one study in a real PostgreSQL server (Optuna's distributed mode)."""
import optuna
import yaml
from optuna.trial import TrialState

from search.conftest import search_recipe
from search.test_study import assert_distinct_points, run_two_workers, run_workers_in_turn


def test_workers_on_one_postgres_study_draw_distinct_points(bert_dir, search_csv, tmp_path, postgres_url):
    recipe = search_recipe(bert_dir, search_csv, tmp_path, search={"optimizer.lr": {"log_uniform": [1e-2, 3e-2]},
                                                                   "trials": 2, "pruner": "none",
                                                                   "startup_trials": 10})
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    load = lambda: optuna.load_study(study_name="pg-study", storage=postgres_url)  # noqa: E731
    extra = ["--storage", postgres_url, "--study", "pg-study"]
    # two started separately (a machine joining later), then two at once
    trials = run_workers_in_turn(path, tmp_path, load, extra=extra, totals=(2, 4))
    assert_distinct_points(trials, workers=2)
    path.write_text(yaml.safe_dump({**recipe, "search": {**recipe["search"], "trials": 6}}))
    trials = run_two_workers(path, tmp_path, load, extra=extra)
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 6
    assert_distinct_points(trials, workers=len({t.user_attrs["worker"] for t in trials}))
    assert not (tmp_path / "pg-study" / "study.db").exists()          # the study lives in PostgreSQL
    assert (tmp_path / "pg-study" / "search.json").is_file()

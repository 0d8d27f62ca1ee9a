"""Two workers on one study in a real PostgreSQL server (Optuna's distributed mode)."""
import optuna
import yaml
from optuna.trial import TrialState

from search.conftest import search_recipe
from search.test_study import run_two_workers


def test_two_workers_share_one_postgres_study(bert_dir, search_csv, tmp_path, postgres_url):
    recipe = search_recipe(bert_dir, search_csv, tmp_path, search={"optimizer.lr": {"log_uniform": [1e-2, 3e-2]},
                                                                   "trials": 8, "pruner": "none"})
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    load = lambda: optuna.load_study(study_name="pg-study", storage=postgres_url)  # noqa: E731
    trials = run_two_workers(path, tmp_path, load, extra=["--storage", postgres_url, "--study", "pg-study"])
    trials = [t for t in trials if not t.user_attrs.get("surplus")]
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 8
    assert len({t.user_attrs["worker"] for t in trials}) == 2
    assert not (tmp_path / "pg-study" / "study.db").exists()          # the study lives in PostgreSQL
    assert (tmp_path / "pg-study" / "search.json").is_file()

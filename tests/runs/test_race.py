"""`strategy: auto`: the race picks what a direct comparison shows best, on two cases whose answer is known.

(a) frozen features already perfect: a tiny random BERT, mean pooling, and a label that is which of
    two words a text holds. The mean-pooled frozen features separate it exactly (the solved linear
    probe scores 1.0 on validation), so training the body cannot do better and the race must pick
    linear-probe, the cheapest of the tied.
(b) frozen features useless: the same BERT with the embedding row of "sad" overwritten by that of
    "happy". The frozen model cannot tell the two words apart anywhere, so no head on its features
    can learn the label (the probe stays near chance); a strategy that trains the embeddings
    (lp-ft, full) separates them within a few dozen steps.

In case (b) every candidate also runs directly (lean, the full step budget, the same splits and
seed); the race's winner must score within TOLERANCE of the best of them (one validation example
of 60 moves macro-F1 by ~0.017). In case (a) the probe's direct score is 1.0, the maximum, so no
direct run of another candidate can beat it (and only the probe runs directly).
"""
import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from rich.console import Console

import tuneforge
from tuneforge.cli import main
from tuneforge.data import load_data
from tuneforge.errors import RecipeError
from tuneforge.recipe import load_recipe
from tuneforge.recipe.schema import StrategySection
from tuneforge.runs.hooks import RunHooks
from tuneforge.runs.pipeline import run
from tuneforge.modes.race import rung_plan
from tuneforge.modes.race_report import race_cost
from tuneforge.tasks import TASKS

CANDIDATES = ["linear-probe", "lp-ft", "full", "gradual-unfreezing"]
TOLERANCE = 0.02
FILLER = "the of and to in is it you that he was for on are with as his they be at one have this from".split()


def word_table(n=240, seed=0) -> pd.DataFrame:
    """Filler words plus one label word: "happy" (pos) or "sad" (neg)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        words = list(rng.choice(FILLER, size=rng.integers(3, 7))) + [["sad", "happy"][i % 2]]
        rng.shuffle(words)
        rows.append({"text": " ".join(words), "label": ["neg", "pos"][i % 2]})
    return pd.DataFrame(rows)


def twin_bert(bert_dir, path):
    """A copy of the tiny BERT in which "sad" has the embedding of "happy": blind to the label."""
    from transformers import BertModel, BertTokenizerFast

    shutil.copytree(bert_dir, path)
    tok = BertTokenizerFast.from_pretrained(path)
    model = BertModel.from_pretrained(path)
    happy, sad = tok.convert_tokens_to_ids(["happy", "sad"])
    with torch.no_grad():
        model.embeddings.word_embeddings.weight[sad] = model.embeddings.word_embeddings.weight[happy]
    model.save_pretrained(path)
    return path


def race_recipe(model_dir, out, **strategy):
    return {"task": "text-classification", "model": {"name": str(model_dir), "pooling": "mean"},
            "data": {"train": word_table(), "validation": 0.25, "test": 0.25, "max_length": 16},
            "optimizer": {"lr": 3e-3}, "strategy": {"name": "auto", **strategy},
            "train": {"epochs": 6, "batch_size": 16, "seed": 1},
            "evaluate": {"bootstrap": 0, "explain": 0}, "output": {"dir": str(out)}}


def direct_scores(recipe_tree, candidates=CANDIDATES) -> dict:
    """Each candidate run directly (lean, full budget, the race's splits and seed): its validation macro-F1."""
    recipe = load_recipe(recipe_tree)
    bundle = load_data(recipe.data, TASKS.get(recipe.task), recipe.train.seed)
    hooks = RunHooks(data=dataclasses.replace(bundle, test=None), lean=True)
    out = {}
    for name in candidates:
        variant = recipe.model_copy(update={"strategy": StrategySection(name=name)})
        folder = Path(recipe.output.dir) / "direct" / name
        out[name] = run(variant, Console(quiet=True), True, run_dir=folder, hooks=hooks).metrics["validation"]["macro_f1"]
    return out


@pytest.fixture(scope="module")
def perfect(bert_dir, tmp_path_factory):
    tree = race_recipe(bert_dir, tmp_path_factory.mktemp("perfect"))
    # macro-F1 is at most 1: when the probe scores 1.0 (asserted below) no candidate can beat it,
    # so the direct comparison needs only the probe's own run
    return tuneforge.finetune(tree, quiet=True), direct_scores(tree, ["linear-probe"])


@pytest.fixture(scope="module")
def blind(bert_dir, tmp_path_factory):
    model = twin_bert(bert_dir, tmp_path_factory.mktemp("twin") / "bert")
    tree = race_recipe(model, tmp_path_factory.mktemp("blind"))
    return tuneforge.finetune(tree, quiet=True), direct_scores(tree)


def test_perfect_features_the_race_picks_the_linear_probe(perfect):
    result, direct = perfect
    race = result.metrics["race"]
    assert direct["linear-probe"] == pytest.approx(1.0)    # the constructed case holds: nothing can beat it
    assert race["winner"] == "linear-probe"
    assert race["rungs"][0]["results"][0]["value"] == pytest.approx(direct["linear-probe"])
    assert result.metrics["strategy"]["name"] == "linear-probe"
    assert result.metrics["train"]["steps"] == 0
    later = [x for r in race["rungs"][1:] for x in r["results"] if x["strategy"] == "linear-probe"]
    assert later and all(x["reused"] for x in later)     # no SGD step: one round, its score stands
    assert not list((result.run_dir / "race").glob("1-linear-probe"))


def test_useless_features_a_body_training_strategy_wins(blind):
    result, direct = blind
    race = result.metrics["race"]
    assert direct["linear-probe"] < 0.75 and max(direct.values()) >= 0.95  # the constructed case holds
    assert race["winner"] in ("lp-ft", "full")                            # they train the embeddings
    assert direct[race["winner"]] >= max(direct.values()) - TOLERANCE
    assert result.metrics["test"]["macro_f1"] > result.metrics["baseline"]["macro_f1"] + 0.2
    assert race["winner"] in race["why"] and "macro_f1" in race["why"]


def test_rungs_halve_the_field_and_double_the_budget(blind):
    race = blind[0].metrics["race"]
    assert [r["budget_steps"] for r in race["rungs"]] == [12, 24]            # 48 steps: 1/4, then 1/2
    assert [len(r["results"]) for r in race["rungs"]] == [4, 2]
    assert [sum(x["kept"] for x in r["results"]) for r in race["rungs"]] == [2, 1]
    kept = {x["strategy"] for x in race["rungs"][0]["results"] if x["kept"]}
    assert kept == {x["strategy"] for x in race["rungs"][1]["results"]}
    best = max(x["value"] for x in race["rungs"][0]["results"])
    assert all(x["value"] <= best for x in race["rungs"][0]["results"] if not x["kept"])
    assert rung_plan(48, 4, 2, 0.25) == [(4, 12), (2, 24)]
    assert rung_plan(10, 5, 2, 0.5) == [(5, 5), (2, 10)]                  # a rung at the full budget ends it
    assert race_cost([(4, 12), (2, 24)], 48, free=1) == pytest.approx(1.75)  # 3 x 1/4 + 2 x 1/2 of a run
    assert race_cost([(3, 12)], 48, free=2) == pytest.approx(0.25)           # one paid candidate, one rung


def test_winner_run_folder_names_the_winner_and_keeps_the_race(blind):
    result, _ = blind
    d, race = result.run_dir, result.metrics["race"]
    saved = (d / "recipe.yaml").read_text()
    assert yaml.safe_load(saved)["strategy"]["name"] == race["winner"]
    assert "chosen by `strategy: auto`" in saved
    assert load_recipe(d / "recipe.yaml").strategy.name == race["winner"]   # repeating it does not race
    assert yaml.safe_load((d / "race" / "recipe.yaml").read_text())["strategy"]["name"] == "auto"
    assert json.loads((d / "metrics.json").read_text())["race"]["rungs"] == race["rungs"]
    assert "Strategy race" in (d / "report.html").read_text() and race["why"] in (d / "report.html").read_text()
    assert result.metrics["test"]                                            # the winner's run is a real run
    rounds = [x for r in race["rungs"] for x in r["results"] if not x.get("reused")]
    assert len(rounds) == 6
    for x in rounds:                                         # the race never saw the test split
        m = json.loads((d / "race" / x["run_dir"].split("/race/")[1] / "metrics.json").read_text())
        assert m["test"] == {} and "test" not in m["data"]["sizes"]
        assert not (d / "race" / x["run_dir"].split("/race/")[1] / "checkpoints").exists()


def test_a_killed_race_resumes_and_keeps_finished_rounds(bert_dir, tmp_path, monkeypatch):
    import tuneforge.modes.race as race   # the race runs each round through runs.pipeline.run, bound there

    real, calls = race.run, []

    def killed_at_third_round(recipe, *args, **kwargs):
        calls.append(recipe.strategy.name)
        if len(calls) == 3:  # linear-probe, lp-ft, then full is killed (the race itself is a mode above runs)
            raise KeyboardInterrupt
        return real(recipe, *args, **kwargs)

    tree = race_recipe(bert_dir, tmp_path, candidates=["linear-probe", "lp-ft", "full"])
    tree["train"]["epochs"] = 2
    monkeypatch.setattr(race, "run", killed_at_third_round)
    with pytest.raises(KeyboardInterrupt):
        tuneforge.finetune(tree, quiet=True)
    monkeypatch.setattr(race, "run", real)
    (folder,) = tmp_path.iterdir()
    assert json.loads((folder / "status.json").read_text())["state"] == "interrupted"
    first = (folder / "race" / "0-lp-ft" / "metrics.json").read_text()
    result = tuneforge.resume(folder, quiet=True)
    assert result.run_dir == folder and result.metrics["race"]["winner"] == "linear-probe"
    assert (folder / "race" / "0-lp-ft" / "metrics.json").read_text() == first    # not run again
    assert (folder / "race" / "0-full" / "metrics.json").is_file()
    assert json.loads((folder / "status.json").read_text())["state"] == "completed"


def test_bad_candidates_are_recipe_errors_with_did_you_mean(bert_dir, tmp_path):
    tree = race_recipe(bert_dir, tmp_path / "runs", candidates=["linear-probe", "fulll", "auto",
                                                                 {"name": "freeze", "top_blokcs": 2}])
    problems = tuneforge.validate(tree)
    assert any('strategy.candidates[1]: unknown strategy \'fulll\' (did you mean "full"?)' in p for p in problems)
    assert any("strategy.candidates[2]" in p and "cannot race itself" in p for p in problems)
    assert any("strategy.candidates[3]" in p and 'did you mean "top_blocks"' in p for p in problems)
    with pytest.raises(RecipeError, match="fulll"):
        tuneforge.finetune(tree, quiet=True)
    assert not (tmp_path / "runs").exists()                                  # nothing half-written


def test_auto_needs_a_validation_split_and_is_listed(bert_dir, tmp_path, capsys):
    tree = race_recipe(bert_dir, tmp_path / "runs")
    tree["data"]["validation"] = None
    assert any("data.validation is null" in p for p in tuneforge.validate(tree))
    recipe = tmp_path / "r.yaml"
    tree["data"]["train"] = str(tmp_path / "t.csv")
    word_table().to_csv(tree["data"]["train"], index=False)
    recipe.write_text(yaml.safe_dump(tree))
    assert main(["validate", str(recipe)]) == 2
    assert main(["list", "strategies"]) == 0
    assert "auto" in capsys.readouterr().out

"""What a token-classification recipe gets when it sets no learning rate (issue 13: a default that
loses to the frozen-feature probe is a bug). Full fine-tuning resolves to the encoder rate (5e-5) and
starts from the head solved on per-word frozen features, so before its first step it already scores
like the probe; the shipped NER recipe relies on these defaults instead of a hand-set rate."""
import json
from pathlib import Path

import tuneforge
from helpers.ner_toy import ner_rows, write_conll
from tuneforge.recipe import load_recipe


def test_default_full_run_resolves_encoder_lr_and_starts_from_the_solved_word_head(bert_dir, tmp_path):
    conll = write_conll(tmp_path / "toy.conll", ner_rows(120, seed=3))
    run = tuneforge.finetune({
        "task": "token-classification", "model": {"name": str(bert_dir)},
        "data": {"train": str(conll), "max_length": 32}, "strategy": {"name": "full"},
        "train": {"epochs": 1, "max_steps": 1, "batch_size": 16, "seed": 1},
        "evaluate": {"bootstrap": 0, "baseline": False, "report": False}, "output": {"dir": str(tmp_path / "runs")}})
    stage = run.metrics["strategy"]["plan"][0]
    assert stage["defaults"]["optimizer.lr"]["value"] == 5e-5
    assert stage["defaults"]["strategy.warm_head"]["value"] is True
    plan = json.loads((run.run_dir / "plan.json").read_text())
    solved = plan[0]["head_solution"]
    assert solved["kind"] == "softmax" and solved["n"] > 3 * run.metrics["data"]["sizes"]["train"]  # one row per word
    history = [json.loads(line) for line in (run.run_dir / "history.jsonl").read_text().splitlines()]
    assert history[0]["step"] == 0 and history[0]["validation"]["entity_f1"] > 0.5   # entities found before step 1


def test_shipped_ner_recipe_leaves_the_learning_rate_to_the_default():
    recipe = load_recipe(Path(__file__).parents[2] / "recipes" / "ner-tweets-minilm.yaml")
    assert recipe.optimizer.lr is None and recipe.strategy.name == "full"

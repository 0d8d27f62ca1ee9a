"""A continual sequence end to end on the tiny BERT: each step starts from the last, every task is
scored after every step, the matrix and its metrics land in metrics.json and the report."""
import json

import pytest
import torch

import tuneforge
from tuneforge.continual import sequence_metrics
from tuneforge.report.run_report import write_run_report

from continual.conftest import continual_recipe, topic_table


@pytest.fixture(scope="module")
def learnable_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("topics") / "topics.csv"
    topic_table(400).to_csv(path, index=False)   # 120 training rows per task
    return path


def test_shared_head_sequence_learns_each_task_then_forgets_the_first(bert_dir, learnable_csv, tmp_path):
    tree = continual_recipe(bert_dir, learnable_csv, tmp_path, **{"train.epochs": 4, "evaluate.report": True})
    result = tuneforge.finetune(tree, quiet=True)
    folder = result.run_dir
    c = json.loads((folder / "metrics.json").read_text())["continual"]
    R = c["matrix"]
    assert len(R) == 3 and all(len(row) == 2 for row in R)
    assert R[1][0] >= 0.9 and R[2][1] >= 0.9                 # each task learnt in its step
    assert R[2][0] < R[1][0] - 0.3                            # ... and the first forgotten by the second
    assert {k: c[k] for k in ("average_accuracy", "bwt", "fwt", "forgetting")} == \
        {k: sequence_metrics(R)[k] for k in ("average_accuracy", "bwt", "fwt", "forgetting")}
    steps = [json.loads((folder / "steps" / d / "metrics.json").read_text()) for d in ("01-a", "02-b")]
    assert [s["data"]["label_names"] for s in steps] == [["sports", "food", "music", "weather"]] * 2
    assert steps[0]["data"]["sizes"]["train"] == steps[1]["data"]["sizes"]["train"] == 120
    assert R[1][0] == pytest.approx(steps[0]["test"]["accuracy"])   # the matrix scores as the step did
    assert R[2][1] == pytest.approx(steps[1]["test"]["accuracy"])
    # step 2 started from step 1's weights, not from the pre-trained ones
    first_state = torch.load(folder / "continual_state.pt", weights_only=True)
    assert first_state["done"] == 2
    html = (folder / "report.html").read_text()
    assert "accuracy matrix" in html and "Forgetting (Chaudhry" in html and "steps/01-a/report.html" in html
    assert json.loads((folder / "status.json").read_text())["state"] == "completed"


def test_per_task_heads_score_each_task_with_its_own_head(bert_dir, topics_csv, tmp_path):
    tree = continual_recipe(bert_dir, topics_csv, tmp_path, **{"continual": {"head": "per-task"},
                                                               "train.epochs": 1})
    result = tuneforge.finetune(tree, quiet=True)
    c = result.metrics["continual"]
    steps = [json.loads((result.run_dir / "steps" / d / "metrics.json").read_text()) for d in ("01-a", "02-b")]
    assert [s["data"]["label_names"] for s in steps] == [["sports", "food"], ["music", "weather"]]
    assert c["matrix"][1][0] == pytest.approx(steps[0]["test"]["accuracy"])
    assert c["matrix"][2][1] == pytest.approx(steps[1]["test"]["accuracy"])
    heads = torch.load(result.run_dir / "continual_state.pt", weights_only=True)["heads"]
    assert set(heads) == {0, 1} and all(h["classifier.weight"].shape[0] == 2 for h in heads.values())
    assert not torch.equal(heads[0]["classifier.weight"], heads[1]["classifier.weight"])
    assert c["head"] == "per-task" and "per-task head" in write_run_report(result.run_dir).read_text()  # rebuilt


def test_replay_adds_earlier_examples_to_later_steps(bert_dir, topics_csv, tmp_path):
    tree = continual_recipe(bert_dir, topics_csv, tmp_path, **{"continual": {"replay": {"size": 10}},
                                                               "train.epochs": 1})
    result = tuneforge.finetune(tree, quiet=True)
    first, second = (json.loads((result.run_dir / "steps" / d / "metrics.json").read_text())
                     for d in ("01-a", "02-b"))
    assert second["data"]["sizes"]["train"] == first["data"]["sizes"]["train"] + 10
    counts = second["data"]["class_counts"]["train"]
    assert counts["sports"] + counts["food"] == 10 and counts["music"] + counts["weather"] == 48
    assert first["data"]["class_counts"]["train"]["music"] == 0


REFUSED = {
    "per-task heads with replay": ({"continual": {"head": "per-task", "replay": {"size": 5}}},
                                   "continual.replay: replayed examples belong to earlier tasks' heads"),
    "one task": ({"tasks": [{"name": "a"}]}, "tasks: a continual sequence needs at least two tasks"),
    "twice the same name": ({"tasks": [{"name": "a"}, {"name": "a"}]}, "the name 'a' is used twice"),
    "settings without tasks": ({"tasks": None, "continual": {"head": "shared"}}, "continual: settings without tasks"),
    "regression": ({"task": "text-regression", "data.label_column": "score"}, "scored by accuracy"),
    "a misspelt data setting": ({"tasks": [{"name": "a", "data": {"max_train_sample": 5}}, {"name": "b"}]},
                                'tasks[0].data.max_train_sample: unknown data setting (did you mean '
                                '"max_train_samples"?)'),
    "a misspelt task key": ({"tasks": [{"name": "a", "clases": ["food"]}, {"name": "b"}]},
                            'tasks.0.clases: unknown key (did you mean "classes"?)'),
    "a race": ({"strategy": {"name": "auto"}}, "strategy.name: a strategy race cannot run inside a continual"),
    "logit distillation": ({"regularisers": [{"name": "distillation", "weight": 1.0, "target": "logits"}]},
                           "the teacher is the previous step's model"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_incompatible_recipes_are_refused_with_one_clear_message_before_any_folder(case, bert_dir, topics_csv,
                                                                                   tmp_path):
    over, message = REFUSED[case]
    tree = continual_recipe(bert_dir, topics_csv, tmp_path / "runs", **over)
    assert any(message in p for p in tuneforge.validate(tree)), tuneforge.validate(tree)
    with pytest.raises(tuneforge.RecipeError) as e:
        tuneforge.finetune(tree, quiet=True)
    assert message in str(e.value)
    assert not (tmp_path / "runs").exists()


def test_a_class_the_data_does_not_have_is_refused_before_any_folder(bert_dir, topics_csv, tmp_path):
    tree = continual_recipe(bert_dir, topics_csv, tmp_path / "runs",
                            tasks=[{"name": "a", "classes": ["sports", "fod"]}, {"name": "b"}])
    with pytest.raises(tuneforge.RecipeError) as e:
        tuneforge.finetune(tree, quiet=True)
    assert "tasks[0].classes: 'fod' is not a class of the task's data (did you mean \"food\"?)" in str(e.value)
    assert not (tmp_path / "runs").exists()

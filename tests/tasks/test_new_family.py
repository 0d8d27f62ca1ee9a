"""A task of a new family touches only ``tasks/``, one evaluation module and its tests.

The worked example is pairwise text ranking: rows are (query, document) pairs with a 0/1 relevance,
the model gives one score per pair, and the family's metric is the share of (relevant, irrelevant)
pairs the scores order correctly. Everything the family needs is defined in this file, in the two
pieces docs/tasks.md names: the evaluation functions (what would be ``evaluation/ranking.py``) and
the Task subclass (what would be ``tasks/ranking.py`` and ``tasks/text_ranking.py``). The task is
registered for the test only and the real run path trains it on a tiny BERT: nothing outside those
two pieces is edited.
"""
import json

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

import tuneforge
from tuneforge.data.cleaning import numeric_targets
from tuneforge.evaluation import metrics as metric_registry
from tuneforge.evaluation.bootstrap import percentile_interval
from tuneforge.tasks import TASKS, Task

# -- "evaluation/ranking.py": the family's metrics, bootstrap and baselines ----------------------------

KIND = "ranking"


def pair_accuracy(y_true, y_pred, y_score=None) -> float:
    """Share of (relevant, irrelevant) pairs whose scores are in the right order (ties count half)."""
    y, s = np.asarray(y_true) > 0.5, np.asarray(y_pred, dtype=np.float64).reshape(-1)
    pos, neg = s[y], s[~y]
    if not len(pos) or not len(neg):
        return float("nan")
    diff = pos[:, None] - neg[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def top_precision(y_true, y_pred, y_score=None) -> float:
    """Share of relevant rows among the top-scored half."""
    y, s = np.asarray(y_true) > 0.5, np.asarray(y_pred, dtype=np.float64).reshape(-1)
    top = np.argsort(-s, kind="stable")[: max(1, len(s) // 2)]
    return float(y[top].mean())


SCALARS = {"pair_accuracy": pair_accuracy, "top_precision": top_precision}


def register_ranking_metrics() -> None:
    """Make the family's metrics known (``evaluate.metric`` may name them; greater is better)."""
    for name, fn in SCALARS.items():
        metric_registry.register_metric(name, KIND, fn.__doc__.splitlines()[0], fn)
    metric_registry.set_default_metric(KIND, "pair_accuracy")


def ranking_metrics(targets, scores) -> dict:
    return {name: fn(targets, scores) for name, fn in SCALARS.items()}


def _resampled(targets, scores, metric: str, resamples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = len(targets)
    rows = [rng.integers(0, n, n) for _ in range(resamples)]   # same seed: the same rows for two models
    return np.array([SCALARS[metric](np.asarray(targets)[r], np.asarray(scores).reshape(-1)[r]) for r in rows])


def ranking_intervals(targets, scores, resamples: int, confidence: float, seed: int) -> dict:
    return {m: percentile_interval(_resampled(targets, scores, m, resamples, seed), confidence) for m in SCALARS}


def ranking_paired(targets, a, b, metric: str, resamples: int, confidence: float, seed: int) -> dict:
    diff = _resampled(targets, a, metric, resamples, seed) - _resampled(targets, b, metric, resamples, seed)
    diff = diff[np.isfinite(diff)]
    p = 2 * min((diff <= 0).mean(), (diff >= 0).mean()) if len(diff) else float("nan")
    return {"difference": SCALARS[metric](targets, a) - SCALARS[metric](targets, b),
            "ci": percentile_interval(diff, confidence), "p_value": float(min(p, 1.0))}


def least_squares_scores(train_x, train_y, eval_sets: dict) -> dict:
    """A linear score fitted on frozen features (the family's probe baseline)."""
    x = np.c_[np.asarray(train_x, dtype=np.float64), np.ones(len(train_x))]
    w = np.linalg.lstsq(x, np.asarray(train_y, dtype=np.float64), rcond=None)[0]
    return {name: np.c_[np.asarray(f, dtype=np.float64), np.ones(len(f))] @ w for name, (f, _) in eval_sets.items()}


# -- "tasks/ranking.py" + "tasks/text_ranking.py": the Task -------------------------------------------

class TextRanking(Task):
    """rank (query, document) pairs by relevance (pairwise accuracy)"""

    name, modality = "text-ranking-example", "text"
    metric_kind = KIND
    problem_type = "regression"          # one output per example in the saved transformers config
    probe_kind = "ridge"                 # the head solver's start: a least-squares score
    bootstrap_unit = "pairs"
    baseline_name = "pre-trained, least-squares score"
    summary_columns = ("pair_accuracy", "top_precision")
    headline_metrics = ("pair_accuracy", "top_precision")
    leaderboard_columns = ("pair_accuracy",)

    def clean_targets(self, df, label_column, data, source, lines, report):
        return numeric_targets(df, label_column, data.clean, source, lines, report)

    def encode_targets(self, labels, names, declared, where):
        return labels.to_numpy(dtype=np.float32)

    def loss(self, outputs, targets, weights=None):
        return F.binary_cross_entropy_with_logits(outputs.float().squeeze(-1), targets.float())

    def compute_metrics(self, targets, outputs, label_names, decision=None):
        return ranking_metrics(targets, outputs)

    def test_statistics(self, targets, outputs, label_names, evaluate, seed, decision=None):
        return {"test_ci": ranking_intervals(targets, outputs, evaluate.bootstrap, evaluate.confidence, seed),
                "confidence": evaluate.confidence, "bootstrap": evaluate.bootstrap}

    def paired_bootstrap(self, targets, outputs_a, outputs_b, metric, resamples, confidence, seed):
        return ranking_paired(targets, outputs_a, outputs_b, metric, resamples, confidence, seed)

    def majority_outputs(self, train_targets, n, label_names):
        return np.zeros(n)   # one score for every pair: no order

    def probe_outputs(self, train_x, train_targets, eval_sets, label_names, seed):
        return least_squares_scores(train_x, train_targets, eval_sets)

    def predict_rows(self, outputs, label_names, decision=None):
        return [{"score": float(torch.sigmoid(torch.tensor(float(v))))} for v in np.asarray(outputs).reshape(-1)]

    def format_prediction(self, row):
        return f"{row['score']:.3f}", ""


@pytest.fixture
def ranking_task(monkeypatch):
    """The task and its metrics registered for one test; every registry is put back afterwards."""
    monkeypatch.setattr(TASKS, "_items", dict(TASKS._items))
    monkeypatch.setattr(TASKS, "_descriptions", dict(TASKS._descriptions))
    registry = metric_registry.METRICS
    monkeypatch.setattr(registry, "_items", dict(registry._items))
    monkeypatch.setattr(registry, "_descriptions", dict(registry._descriptions))
    monkeypatch.setattr(metric_registry, "_KIND", {k: set(v) for k, v in metric_registry._KIND.items()})
    monkeypatch.setattr(metric_registry, "_DEFAULT", dict(metric_registry._DEFAULT))
    register_ranking_metrics()
    task = TextRanking()
    TASKS.register(task.name)(task)
    yield task


TOPICS = {"sports": "game play run field".split(), "politics": "govern state country rule".split(),
          "weather": "rain cold wind sun".split()}   # words of the tiny BERT's vocabulary
FILLER = "the a day new about and it was very".split()


def ranking_table(n=160, seed=0) -> pd.DataFrame:
    """query: a sports word; document: filler plus two sports words (relevant) or two words of another topic."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        relevant = i % 2 == 0
        topic = "sports" if relevant else ("politics", "weather")[(i // 2) % 2]
        words = list(rng.choice(FILLER, size=3)) + list(rng.choice(TOPICS[topic], size=2))
        rng.shuffle(words)
        rows.append({"query": str(rng.choice(TOPICS["sports"])), "doc": " ".join(words) + f" {i}",
                     "relevant": 1.0 if relevant else 0.0})
    return pd.DataFrame(rows)


def test_the_family_is_known_while_registered_and_gone_after(ranking_task):
    assert ranking_task.name in TASKS and ranking_task.default_metric() == "pair_accuracy"
    assert set(ranking_task.metric_names()) == {"pair_accuracy", "top_precision"}
    assert metric_registry.greater_is_better("pair_accuracy")


def test_the_registries_hold_no_trace_of_the_example():
    """Runs after the test above (file order): the fixture put every registry back."""
    assert "text-ranking-example" not in TASKS and "pair_accuracy" not in metric_registry.METRICS
    assert KIND not in metric_registry._DEFAULT


def test_a_new_family_runs_end_to_end_through_the_real_run_path(ranking_task, bert_dir, tmp_path):
    path = tmp_path / "pairs.csv"
    ranking_table().to_csv(path, index=False)
    recipe = {"task": ranking_task.name, "model": {"name": str(bert_dir)},
              "data": {"train": str(path), "text_column": ["query", "doc"], "label_column": "relevant",
                       "validation": 0.2, "test": 0.2, "max_length": 16},
              "optimizer": {"lr": 1e-2}, "train": {"epochs": 4, "batch_size": 16, "seed": 0},
              "evaluate": {"bootstrap": 50, "report": False}, "output": {"dir": str(tmp_path / "runs")}}
    run = tuneforge.finetune(recipe)
    m = run.metrics
    assert m["monitor"] == "pair_accuracy" and m["columns"]["leaderboard"] == ["pair_accuracy"]
    assert set(m["test"]) == {"pair_accuracy", "top_precision"}
    assert m["test"]["pair_accuracy"] > 0.75 > m["baseline_majority"]["pair_accuracy"] == 0.5
    assert "pair_accuracy" in m["baseline"]                       # the family's own probe
    lo, hi = m["test_ci"]["pair_accuracy"]
    assert lo <= m["test"]["pair_accuracy"] <= hi
    saved = json.loads((run.run_dir / "metrics.json").read_text())
    assert saved["test"] == m["test"]
    scores = run.predict(["game ||| play the game in the field", "game ||| cold wind and rain today"])
    assert len(scores) == 2 and scores[0]["score"] > scores[1]["score"]

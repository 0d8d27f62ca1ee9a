"""End-of-run diagnostics: gather what the run holds and ask :mod:`tuneforge.evaluation.diagnostics`.

Called by the pipeline once the model is final. Gathers the model's per-example outputs on the
evaluation split (test, else validation), the baselines' outputs (``baseline_outputs.npz``), the
per-step training losses (``loss_trace.jsonl``), the validation metric at each evaluation
(``history.jsonl``) and the model's and the probe's scores on a sample of training rows. Returns
the keys added to ``metrics.json``: ``diagnostics`` (a list, empty when healthy), ``vs_baseline``
(the paired bootstrap behind "did fine-tuning help?") and ``train_sample`` (the under-fitting scores).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..evaluation import greater_is_better, predict_outputs
from ..evaluation.diagnostics import RunFacts, compare_to_baseline, diagnose
from ..models.precision import autocast_dtype
from .baselines import eval_split_name, load_baseline_outputs, train_sample


class _Rows:
    """A view of some rows of an encoded split (what ``predict_outputs`` needs: len, batch, lengths)."""

    def __init__(self, encoded, rows: np.ndarray):
        self.encoded, self.rows = encoded, rows
        lengths = getattr(encoded, "lengths", None)
        self.lengths = None if lengths is None else np.asarray(lengths)[rows]

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def per_example(self):
        return getattr(self.encoded, "per_example", None)

    def batch(self, indices, train: bool = False, **kw):
        return self.encoded.batch(self.rows[np.asarray(indices, dtype=np.int64)], train=train, **kw)


def _model_outputs(p, encoded, device, precision) -> np.ndarray:
    # after fold_target_scale the model predicts original units: no scaler needed
    return predict_outputs(p.model, encoded, p.recipe.evaluate.batch_size, device, autocast_dtype(precision))


def run_diagnostics(p, run_dir: Path, metric: str, split_outputs: Optional[np.ndarray], history: list[dict],
                    losses: list[float], device, precision: str, metrics: Optional[dict] = None) -> dict:
    """``{"diagnostics": [...], "vs_baseline": {...} | None, "train_sample": {...} | None}``.

    ``split_outputs``: the final model's outputs on the evaluation split (test, else validation) when the
    pipeline already has them (they are computed here otherwise); ``metrics``: the run's metrics so far; without saved baseline outputs (a run folder from an older
    version, resumed) the baseline's score is compared with the model's bootstrap interval instead."""
    recipe, task = p.recipe, p.task
    kind = task.metric_kind
    greater = greater_is_better(metric)
    split = eval_split_name(p)
    base = load_baseline_outputs(run_dir)
    names = p.data.label_names
    score = lambda y, out: task.compute_metrics(y, out, names).get(metric)  # noqa: E731
    facts = RunFacts(kind=kind, metric=metric, greater_is_better=greater, label_names=p.data.label_names,
                     lr=recipe.optimizer.lr, epochs=recipe.train.epochs, strategy=recipe.strategy.name,
                     confidence=recipe.evaluate.confidence, resamples=recipe.evaluate.bootstrap or 1000,
                     seed=recipe.train.seed)
    if split is not None:
        outputs = split_outputs if split_outputs is not None else \
            _model_outputs(p, p.encoded[split], device, precision)
        facts.y_true, facts.outputs = np.asarray(getattr(p.data, split).targets), np.asarray(outputs)
        facts.score = score(facts.y_true, facts.outputs)
        if "probe" in base and len(base["probe"]) == len(facts.y_true):
            facts.baseline_outputs = base["probe"]
            facts.baseline_score = score(facts.y_true, base["probe"])
            facts.vs_baseline = compare_to_baseline(kind, metric, greater, facts.y_true, facts.outputs,
                                                    base["probe"], facts.resamples, facts.confidence, facts.seed,
                                                    paired=task.paired_bootstrap)
        elif metrics and split == "test":
            facts.baseline_score = (metrics.get("baseline") or {}).get(metric)
            facts.score_ci = (metrics.get("test_ci") or {}).get(metric)
    facts.losses = losses or [h.get("train_loss") for h in history]
    facts.prior_loss = task.input_free_loss(p.model, p.data.train.targets)
    facts.validation = [h.get("validation", {}).get(metric) for h in history]
    facts.validation_epochs = [h.get("epoch", 0.0) for h in history]
    facts.validation_steps = [h.get("step") for h in history]
    facts.final_model = (metrics or {}).get("final_model")
    train_scores = None
    if "probe_train" in base:
        rows = train_sample(len(p.data.train.targets), recipe.train.seed)
        if len(rows) == len(base["probe_train"]):
            y = np.asarray(p.data.train.targets)[rows]
            model_out = _model_outputs(p, _Rows(p.encoded["train"], rows), device, precision)
            facts.train_score = score(y, model_out)
            facts.baseline_train_score = score(y, base["probe_train"])
            train_scores = {"rows": int(len(rows)), "metric": metric, "model": facts.train_score,
                            "baseline": facts.baseline_train_score}
    return {"diagnostics": [d.to_dict() for d in diagnose(facts)], "vs_baseline": facts.vs_baseline,
            "train_sample": train_scores}
